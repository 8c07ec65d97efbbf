/**
 * The userspace interrupt controller of archOptions.irqchip 'userspace' (gem5's way): KVM has no
 * irqchip; kvmts holds which vectors and NMIs are pending per vCPU and the vCPU's own thread
 * injects them (KVM_INTERRUPT, KVM_NMI: userspace-injection.ts).
 *
 * Devices run in every vCPU thread and on the main thread, so the state is one SharedArrayBuffer
 * that every thread binds (X86UserspaceInterrupts), updated only with Atomics:
 *
 *   word  0                 line levels (bit n = line n), for edge detection
 *   words 4 + 16·v + …      vCPU v:  +0 summary (PENDING_VECTOR | PENDING_NMI)
 *                                    +1 NMIs pending
 *                                    +2..+9 pending vectors, a 256-bit map
 *   BigInt64 after them     vCPU v's thread (pthread_t, for the kick), 0 until published
 *
 * Routing (documented in docs/architecture.md): line n is an edge-triggered input that raises
 * vector USERSPACE_IRQ_VECTOR_BASE + n on vCPU 0 — the boot processor, as a PIC in virtual-wire
 * mode delivers to it. A vector is pending until injected (a lowered line does not withdraw it).
 *
 * Raising for a vCPU that sits in KVM_RUN on another thread kicks it: pending bit first, then
 * kvm_run.immediate_exit, then the signal, so the vCPU either sees the bit before it enters or
 * leaves KVM_RUN at once (the same ordering as the stop protocol). A vCPU waiting in HLT is woken
 * with Atomics.notify on its summary word.
 */
import * as native from '@kvmts/native';
import { ConfigError, KvmRunLayout } from '@kvmts/core';

/** Lines 0..23 (the IOAPIC's pin count). */
export const USERSPACE_IRQ_LINES = 24;
/** Line n raises vector 0x20 + n: the first vector after the exceptions, as Linux remaps the PIC. */
export const USERSPACE_IRQ_VECTOR_BASE = 0x20;
/** The vCPU the lines interrupt. */
export const USERSPACE_IRQ_TARGET_VCPU = 0;

/** Summary bits of one vCPU. */
export const PENDING_VECTOR = 1;
export const PENDING_NMI = 2;

/** Word offsets (the table above). */
export const UserspaceIrqSlot = {
  levels: 0,
  header: 4,
  perVcpu: 16,
  summary: 0,
  nmis: 1,
  vectors: 2,
  vectorWords: 8,
} as const;

/** What every thread receives (structured-cloneable: the buffer is shared, not copied). */
export interface X86UserspaceIrqData {
  readonly shared: SharedArrayBuffer;
  readonly vcpuCount: number;
  /** Each vCPU's kvm_run mapping, so any thread can set its immediate_exit. */
  readonly runMappings: readonly { readonly id: number; readonly size: number }[];
}

const IMMEDIATE_EXIT = KvmRunLayout.immediate_exit;
const S = UserspaceIrqSlot;

function threadOffset(vcpuCount: number): number {
  const words = S.header + S.perVcpu * vcpuCount;
  return Math.ceil((words * 4) / 8) * 8;
}

/**
 * The words that hold interrupt state (line levels, and per vCPU the summary, NMIs and pending
 * vectors) — what a checkpoint saves; the thread ids after them belong to the running process.
 */
export function userspaceIrqStateWords(data: X86UserspaceIrqData): Int32Array {
  return new Int32Array(data.shared, 0, S.header + S.perVcpu * data.vcpuCount);
}

/** The shared state for `runMappings.length` vCPUs, zero: nothing pending. */
export function createUserspaceIrqData(runMappings: X86UserspaceIrqData['runMappings']): X86UserspaceIrqData {
  const vcpuCount = runMappings.length;
  return { shared: new SharedArrayBuffer(threadOffset(vcpuCount) + 8 * vcpuCount), vcpuCount, runMappings };
}

/** One thread's view of the controller. Raising works from any thread; taking only on the vCPU's own. */
export class X86UserspaceInterrupts {
  readonly words: Int32Array;
  readonly vcpuCount: number;
  private readonly threads: BigInt64Array;
  private readonly runViews: (Uint8Array | undefined)[] = [];
  private readonly runMappings: X86UserspaceIrqData['runMappings'];
  /** The thread this view lives on: raising for a vCPU that runs here needs no kick. */
  private readonly ownThread: bigint;

  constructor(data: X86UserspaceIrqData) {
    if (!(data?.shared instanceof SharedArrayBuffer) || data.shared.byteLength !== threadOffset(data.vcpuCount) + 8 * data.vcpuCount) {
      throw new ConfigError('userspaceIrq', 'shared state missing or of the wrong size for its vCPU count');
    }
    this.vcpuCount = data.vcpuCount;
    this.words = new Int32Array(data.shared, 0, S.header + S.perVcpu * data.vcpuCount);
    this.threads = new BigInt64Array(data.shared, threadOffset(data.vcpuCount), data.vcpuCount);
    this.runMappings = data.runMappings;
    this.ownThread = native.currentThread();
  }

  /** Word index of vCPU `vcpu`'s summary. */
  summaryIndex(vcpu: number): number {
    return S.header + S.perVcpu * vcpu + S.summary;
  }

  /**
   * Drive line `line` (device-facing, `DeviceContext.setIrqLine`): a rising edge raises vector
   * USERSPACE_IRQ_VECTOR_BASE + line on USERSPACE_IRQ_TARGET_VCPU.
   */
  set(line: number, level: boolean): void {
    if (!Number.isInteger(line) || line < 0 || line >= USERSPACE_IRQ_LINES) {
      throw new ConfigError('irq', `line ${String(line)} is not one of the userspace controller's lines 0..${USERSPACE_IRQ_LINES - 1}`);
    }
    const bit = 1 << line;
    if (level) {
      const before = Atomics.or(this.words, S.levels, bit);
      if ((before & bit) === 0) this.raiseVector(USERSPACE_IRQ_TARGET_VCPU, USERSPACE_IRQ_VECTOR_BASE + line);
    } else {
      Atomics.and(this.words, S.levels, ~bit);
    }
  }

  /** Line levels as last driven (bit n = line n). */
  get levels(): number {
    return Atomics.load(this.words, S.levels) >>> 0;
  }

  /** Make `vector` pending on `vcpu` and make sure that vCPU notices. */
  raiseVector(vcpu: number, vector: number): void {
    this.checkVcpu(vcpu);
    if (!Number.isInteger(vector) || vector < 16 || vector > 255) throw new ConfigError('vector', `must be an integer 16..255, got ${String(vector)}`);
    const base = S.header + S.perVcpu * vcpu;
    Atomics.or(this.words, base + S.vectors + (vector >> 5), 1 << (vector & 31));
    Atomics.or(this.words, base + S.summary, PENDING_VECTOR);
    this.wake(vcpu);
  }

  /** Queue an NMI for `vcpu` (delivered with KVM_NMI; KVM keeps the NMI window itself). */
  raiseNmi(vcpu: number): void {
    this.checkVcpu(vcpu);
    const base = S.header + S.perVcpu * vcpu;
    Atomics.add(this.words, base + S.nmis, 1);
    Atomics.or(this.words, base + S.summary, PENDING_NMI);
    this.wake(vcpu);
  }

  /** What is pending for `vcpu` (PENDING_* bits). */
  pending(vcpu: number): number {
    return Atomics.load(this.words, S.header + S.perVcpu * vcpu + S.summary);
  }

  /** Pending vectors of `vcpu`, lowest first (for inspection). */
  pendingVectors(vcpu: number): number[] {
    this.checkVcpu(vcpu);
    const out: number[] = [];
    const at = S.header + S.perVcpu * vcpu + S.vectors;
    for (let w = 0; w < S.vectorWords; w++) {
      const bits = Atomics.load(this.words, at + w);
      for (let b = 0; b < 32; b++) if ((bits >>> b) & 1) out.push(w * 32 + b);
    }
    return out;
  }

  // ---- the vCPU's side ------------------------------------------------------------------------

  /** Called by vCPU `vcpu`'s thread: raisers elsewhere kick this thread from now on. */
  publishThread(vcpu: number): void {
    this.checkVcpu(vcpu);
    Atomics.store(this.threads, vcpu, this.ownThread);
  }

  /** Take every pending NMI of `vcpu` (returns how many). */
  takeNmis(vcpu: number): number {
    const base = S.header + S.perVcpu * vcpu;
    Atomics.and(this.words, base + S.summary, ~PENDING_NMI);
    return Atomics.exchange(this.words, base + S.nmis, 0);
  }

  /** The highest pending vector of `vcpu`, no longer pending; -1 if none. */
  takeVector(vcpu: number): number {
    const base = S.header + S.perVcpu * vcpu;
    // Clear the summary bit before scanning: a vector raised meanwhile sets it again.
    Atomics.and(this.words, base + S.summary, ~PENDING_VECTOR);
    let taken = -1;
    for (let w = S.vectorWords - 1; w >= 0; w--) {
      const bits = Atomics.load(this.words, base + S.vectors + w);
      if (bits === 0) continue;
      if (taken < 0) {
        const b = 31 - Math.clz32(bits);
        Atomics.and(this.words, base + S.vectors + w, ~(1 << b));
        taken = w * 32 + b;
        if ((bits & ~(1 << b)) === 0) continue;
      }
      // Another vector remains pending.
      Atomics.or(this.words, base + S.summary, PENDING_VECTOR);
      break;
    }
    return taken;
  }

  /** Put back a vector that could not be injected after all. */
  restoreVector(vcpu: number, vector: number): void {
    const base = S.header + S.perVcpu * vcpu;
    Atomics.or(this.words, base + S.vectors + (vector >> 5), 1 << (vector & 31));
    Atomics.or(this.words, base + S.summary, PENDING_VECTOR);
  }

  private checkVcpu(vcpu: number): void {
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= this.vcpuCount) throw new ConfigError('vcpu', `no vCPU ${String(vcpu)} (the machine has ${this.vcpuCount})`);
  }

  private wake(vcpu: number): void {
    Atomics.notify(this.words, this.summaryIndex(vcpu));
    const thread = Atomics.load(this.threads, vcpu);
    // The vCPU's own thread (a device in one of its exits) injects before its next entry anyway.
    if (thread === 0n || thread === this.ownThread) return;
    Atomics.store(this.runView(vcpu), IMMEDIATE_EXIT, 1);
    native.kickThread(thread);
  }

  private runView(vcpu: number): Uint8Array {
    let view = this.runViews[vcpu];
    if (view === undefined) {
      const m = this.runMappings[vcpu];
      view = new Uint8Array(native.mappingById(m.id).view(0, m.size));
      this.runViews[vcpu] = view;
    }
    return view;
  }
}
