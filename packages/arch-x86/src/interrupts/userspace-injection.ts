/**
 * The vCPU's half of irqchip 'userspace': before every KVM_RUN entry, inject what the userspace
 * controller holds for this vCPU, as gem5's KVM CPU does —
 *  - NMIs with KVM_NMI (KVM queues them and waits for the NMI window itself);
 *  - the highest pending vector with KVM_INTERRUPT when kvm_run.ready_for_interrupt_injection
 *    says the guest can take one (IF = 1, no interrupt shadow, nothing queued); otherwise set
 *    kvm_run.request_interrupt_window, and KVM exits with KVM_EXIT_IRQ_WINDOW_OPEN as soon as it
 *    can, where the next entry injects.
 * HLT exits to userspace without an in-kernel LAPIC: with IF = 1 the thread sleeps until
 * something is pending for its vCPU (or a stop request: it looks every HALT_POLL_MS, since a
 * stop's signal does not end Atomics.wait); with IF = 0 and no NMI pending nothing can wake the
 * guest, and the run ends with reason 'halted', as with irqchip 'none'.
 * With nothing pending the entry hook costs one atomic load and two byte reads.
 */
import * as native from '@kvmts/native';
import { ControlSlot, KvmError, KvmExitReason, KvmRunLayout as R, Stop, errnoCode, kvmIoctl, type BaseKvmCPU, type CpuStop } from '@kvmts/core';
import { X86Ioctl } from '../abi/ioctls';
import { PENDING_NMI, PENDING_VECTOR, X86UserspaceInterrupts, type X86UserspaceIrqData } from './userspace-controller';

/** How often a halted vCPU looks for a stop request while it waits for an interrupt. */
export const HALT_POLL_MS = 20;
/** Hardware holds one NMI pending besides the one being serviced; more coalesce. */
const MAX_QUEUED_NMIS = 2;
const EEXIST = 17;
const IMMEDIATE_EXIT = R.immediate_exit;
const REQUEST_WINDOW = R.request_interrupt_window;
const READY = R.ready_for_interrupt_injection;
const IF_FLAG = R.if_flag;

export class UserspaceInterruptInjector {
  readonly controller: X86UserspaceInterrupts;
  private readonly summary: number;
  private readonly words: Int32Array;
  private readonly req = new DataView(new ArrayBuffer(4));
  private windowRequested = false;

  constructor(private readonly cpu: BaseKvmCPU, data: X86UserspaceIrqData) {
    this.controller = new X86UserspaceInterrupts(data);
    this.words = this.controller.words;
    this.summary = this.controller.summaryIndex(cpu.id);
    this.controller.publishThread(cpu.id);
    cpu.setEntryHook(() => this.beforeEntry());
    // The entry hook that follows every exit injects; the exit itself needs nothing.
    cpu.setExitHandler(KvmExitReason.IRQ_WINDOW_OPEN, () => undefined);
    cpu.setExitHandler(KvmExitReason.HLT, () => this.halt());
  }

  private beforeEntry(): void {
    const b = this.cpu.runBytes;
    if (Atomics.load(this.words, this.summary) === 0 && b[IMMEDIATE_EXIT] === 0 && !this.windowRequested) return;
    this.inject();
  }

  private inject(): void {
    const cpu = this.cpu;
    const b = cpu.runBytes;
    const ctl = this.controller;
    // A raiser's immediate_exit has done its job: the pending state is read below. One that a
    // stop request set stays (the stop flag is stored first, so re-checking it after is enough).
    if (b[IMMEDIATE_EXIT] !== 0 && Atomics.load(cpu.control, ControlSlot.stop) === 0) {
      Atomics.store(b, IMMEDIATE_EXIT, 0);
      if (Atomics.load(cpu.control, ControlSlot.stop) !== 0) Atomics.store(b, IMMEDIATE_EXIT, 1);
    }
    const pending = ctl.pending(cpu.id);
    if ((pending & PENDING_NMI) !== 0) {
      const n = Math.min(ctl.takeNmis(cpu.id), MAX_QUEUED_NMIS);
      for (let i = 0; i < n; i++) kvmIoctl(cpu.fd, X86Ioctl.NMI, `KVM_NMI (vCPU ${cpu.id})`);
    }
    if ((pending & PENDING_VECTOR) !== 0 && b[READY] !== 0) {
      const vector = ctl.takeVector(cpu.id);
      if (vector >= 0) {
        this.req.setUint32(0, vector, true);
        const r = native.ioctlErrno(cpu.fd, X86Ioctl.INTERRUPT, this.req);
        if (r === -EEXIST) ctl.restoreVector(cpu.id, vector); // one is still queued in KVM: next window
        else if (r < 0) throw new KvmError('KVM_INTERRUPT', -r, errnoCode(r), `vCPU ${cpu.id}, vector ${vector}`);
      }
    }
    // Ask for an exit when the guest can take the next one.
    const more = (ctl.pending(cpu.id) & PENDING_VECTOR) !== 0;
    b[REQUEST_WINDOW] = more ? 1 : 0;
    this.windowRequested = more;
  }

  private halt(): CpuStop | undefined {
    const cpu = this.cpu;
    const interruptible = cpu.runBytes[IF_FLAG] !== 0;
    const wakes = interruptible ? PENDING_VECTOR | PENDING_NMI : PENDING_NMI;
    if (!interruptible && (this.controller.pending(cpu.id) & PENDING_NMI) === 0) return Stop.halted;
    for (;;) {
      const s = Atomics.load(this.words, this.summary);
      if ((s & wakes) !== 0 || Atomics.load(cpu.control, ControlSlot.stop) !== 0) return undefined;
      Atomics.wait(this.words, this.summary, s, HALT_POLL_MS);
    }
  }
}
