/**
 * A VM's irqfds taken away from the kernel for a while, their triggers handed to userspace. The
 * muxing GIC (@kvmts/dev-gic) needs this: while its userspace model holds the in-kernel GIC's
 * state, an irqfd's trigger would raise the SPI in the kernel's GIC, whose state the model's
 * then overwrites — the interrupt would be lost. Diverted, each trigger stays in its eventfd's
 * counter until the main thread reads it (a poll, and every drain()) and hands it on.
 *
 *   start     KVM_IRQFD DEASSIGN for every binding. KVM has injected whatever it took from an
 *             eventfd before the ioctl returns (the deassign flushes its injection work), so a
 *             trigger is either in the kernel's state — saved after this — or still in the counter.
 *   drain     read every counter that is not 0 and hand its GSI on, once per eventfd (several
 *             writes before a read are one edge, as KVM's irqfd merges them too).
 *   giveBack  KVM_IRQFD ASSIGN again, in the VM's order. KVM polls an eventfd as it assigns it
 *             and injects at once if the counter is not 0, so a trigger written after the last
 *             drain reaches the kernel's GIC: none is lost on the way back either.
 *
 * The bindings stay in the VM's list throughout (vm.irqfds()): they are the VM's, only their
 * route is changed, so a checkpoint taken meanwhile re-binds them as usual.
 */
import * as fs from 'node:fs';
import * as native from '@kvmts/native';
import { KVM_IRQFD_FLAG_DEASSIGN } from '../abi/kvm-run';
import { ConfigError } from '../errors/errors';
import { irqfdIoctl, markIrqfdsDiverted } from './irqfd-ioctl';
import type { IrqfdBinding, KvmVM } from './kvm-vm';

/** Where the bindings are changed (the VM's KVM_IRQFD; a host test records the calls instead). */
export interface IrqfdRoute {
  assign(binding: IrqfdBinding): void;
  deassign(binding: IrqfdBinding): void;
}

/** KVM_IRQFD on the VM's fd. */
export function kernelIrqfdRoute(vm: Pick<KvmVM, 'fd'>): IrqfdRoute {
  return {
    assign: (b) => irqfdIoctl(vm.fd, b.fd, b.gsi, 0),
    deassign: (b) => irqfdIoctl(vm.fd, b.fd, b.gsi, KVM_IRQFD_FLAG_DEASSIGN),
  };
}

/**
 * An eventfd's counter without consuming it and without blocking: the fd's /proc fdinfo reports
 * it ("eventfd-count", hex). A read of an eventfd whose counter is 0 would block the main thread
 * (the VM's eventfds are blocking), and a caller's own eventfd may be either.
 */
export function eventfdCount(fd: number): bigint {
  const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1');
  const m = /^eventfd-count:\s*([0-9a-f]+)\s*$/im.exec(info);
  if (!m) throw new ConfigError('irqfd', `fd ${fd} is not an eventfd (its fdinfo has no eventfd-count)`);
  return BigInt(`0x${m[1]}`);
}

/** How often the main thread looks at the counters while diverted: an interrupt's latency for a simulated CPU. */
const POLL_MS = 1;

export class IrqfdDiversion {
  private timer: NodeJS.Timeout | undefined;
  /**
   * The first thing that failed while diverted — handing a trigger on (onTrigger threw), or
   * reading an eventfd — kept for giveBack to throw: a poll has no caller to throw to, and one
   * irqfd's failure must not stop the others' delivery.
   */
  private failure: { error: unknown } | undefined;
  private given = false;

  private constructor(
    private readonly vm: Pick<KvmVM, 'irqfds' | 'phase'>,
    /** The bindings taken away, in the VM's order. */
    readonly bindings: readonly IrqfdBinding[],
    private readonly route: IrqfdRoute,
    private readonly onTrigger: (gsi: number) => void,
  ) {}

  /**
   * Take every irqfd of `vm` away from the kernel; `onTrigger(gsi)` gets each trigger from now on
   * (from a poll, or drain()). If one cannot be taken, those already taken go back and it throws.
   * Until giveBack, core's VM refuses to add or remove irqfds, naming `by`.
   */
  static start(vm: Pick<KvmVM, 'irqfds' | 'phase'>, route: IrqfdRoute, onTrigger: (gsi: number) => void, pollMs = POLL_MS, by = 'an irqfd diversion'): IrqfdDiversion {
    const bindings = vm.irqfds();
    const taken: IrqfdBinding[] = [];
    try {
      for (const b of bindings) {
        route.deassign(b);
        taken.push(b);
      }
    } catch (e) {
      for (const b of taken) route.assign(b);
      throw e;
    }
    markIrqfdsDiverted(vm, by);
    const diversion = new IrqfdDiversion(vm, bindings, route, onTrigger);
    if (bindings.length > 0) {
      diversion.timer = setInterval(() => diversion.drain(), pollMs);
      // A diverted irqfd does not keep the process alive (nor does KVM's own binding).
      diversion.timer.unref();
    }
    return diversion;
  }

  /**
   * Hand on every trigger waiting in an eventfd now; returns the GSIs handed on, in the VM's
   * order. Never throws: a failure (of one irqfd) is kept for giveBack, and the others go on.
   */
  drain(): number[] {
    const raised: number[] = [];
    if (this.given) return raised;
    if (this.vm.phase === 'closed') {
      // The VM closed its eventfds: their numbers may already name other files. Nothing to give back either.
      this.finish();
      return raised;
    }
    for (const b of this.bindings) {
      try {
        // A poll and, only if the counter is not 0, a read: never blocks, and a write after it stays for the next.
        if (native.eventfdTryRead(b.fd) === 0n) continue;
        raised.push(b.gsi);
        this.onTrigger(b.gsi);
      } catch (error) {
        this.failure ??= { error };
      }
    }
    return raised;
  }

  /** The first failure while diverted, if any (giveBack throws it). */
  get failed(): unknown {
    return this.failure?.error;
  }

  /**
   * Give every binding back to the kernel (after the last drain: KVM injects a trigger written
   * since), each once: one that cannot be bound again (its eventfd closed meanwhile) is skipped
   * and reported, the others are bound. Then throws the first failure of the whole diversion.
   */
  giveBack(): void {
    if (this.given) return;
    this.stopPolling();
    if (this.vm.phase !== 'closed') {
      for (const b of this.bindings) {
        try {
          this.route.assign(b);
        } catch (error) {
          this.failure ??= { error };
        }
      }
    }
    this.finish();
    if (this.failure !== undefined) throw this.failure.error;
  }

  private finish(): void {
    this.stopPolling();
    this.given = true;
    markIrqfdsDiverted(this.vm, undefined);
  }

  private stopPolling(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
