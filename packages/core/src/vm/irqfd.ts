import * as native from '@kvmts/native';
import type { KvmVM } from './kvm-vm';

/**
 * An eventfd bound to a GSI with KVM_IRQFD: writing it raises the GSI inside the kernel — no
 * ioctl, no vCPU exit. KVM pulses the GSI (assert, deassert), so it suits edge-triggered pins and
 * MSI routes. The fd number is valid in every thread of the process: a device in a vCPU worker
 * or a host thread can trigger it (`IrqfdTrigger`).
 */
export class Irqfd {
  private constructor(private readonly vm: KvmVM, readonly gsi: number, readonly fd: number) {}

  /**
   * The irqfd bound to `gsi` in `vm` (the oldest, if several), or undefined. How the host finds an
   * irqfd a checkpoint re-bound in a restored machine: the eventfd is a new one there.
   */
  static onGsi(vm: KvmVM, gsi: number): Irqfd | undefined {
    const binding = vm.irqfds().find((b) => b.gsi === gsi);
    return binding && new Irqfd(vm, binding.gsi, binding.fd);
  }

  /** Bind a new eventfd (owned and closed by the VM) to `gsi`. */
  static assign(vm: KvmVM, gsi: number): Irqfd {
    return new Irqfd(vm, gsi, vm.addIrqfd(gsi));
  }

  trigger(): void {
    native.eventfdWrite(this.fd, 1n);
  }

  /** Unbind it (KVM_IRQFD with DEASSIGN); the VM still closes the fd with itself. */
  release(): void {
    this.vm.removeIrqfd(this.gsi, this.fd);
  }
}

/** The triggering half of an Irqfd, for another thread: it only needs the fd number. */
export class IrqfdTrigger {
  constructor(readonly fd: number) {}

  trigger(): void {
    native.eventfdWrite(this.fd, 1n);
  }
}
