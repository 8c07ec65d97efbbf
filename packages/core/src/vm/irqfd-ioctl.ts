/**
 * KVM_IRQFD itself: bind an eventfd to a GSI (a write to it injects the interrupt in the kernel)
 * or unbind it. Used by the VM's irqfd API and by the irqfd diversion, which unbinds a VM's
 * irqfds for a while (irqfd-diversion.ts).
 */
import { KvmIoctl } from '../abi/ioctls';
import { IrqfdLayout } from '../abi/kvm-run';
import { kvmIoctl } from '../kvm/ioctl';

/** KVM_IRQFD on `vmFd`: bind (flags 0) or unbind (KVM_IRQFD_FLAG_DEASSIGN) eventfd `fd` and `gsi`. */
export function irqfdIoctl(vmFd: number, fd: number, gsi: number, flags: number): void {
  const b = new DataView(new ArrayBuffer(IrqfdLayout.size));
  b.setUint32(IrqfdLayout.fd, fd, true);
  b.setUint32(IrqfdLayout.gsi, gsi, true);
  b.setUint32(IrqfdLayout.flags, flags, true);
  kvmIoctl(vmFd, KvmIoctl.IRQFD, `KVM_IRQFD(fd ${fd}, gsi ${gsi}${flags ? ', deassign' : ''})`, b);
}

/**
 * Who holds a VM's irqfds away from the kernel now (an IrqfdDiversion), by VM. The VM's own
 * addIrqfd/removeIrqfd refuse meanwhile: a binding added then would go to the kernel's GIC whose
 * state the holder's replaces (its interrupts lost), and one removed would be bound again when
 * the holder gives the bindings back.
 */
const diverted = new WeakMap<object, string>();

export function markIrqfdsDiverted(vm: object, by: string | undefined): void {
  if (by === undefined) diverted.delete(vm);
  else diverted.set(vm, by);
}

/** Who holds `vm`'s irqfds away from the kernel, or undefined. */
export function irqfdsDivertedBy(vm: object): string | undefined {
  return diverted.get(vm);
}
