/**
 * Guest debugging on one x86 vCPU (core's `GuestDebug` contract): KVM_SET_GUEST_DEBUG with
 * single-step, hardware breakpoints and watchpoints in DR0–DR3/DR7 (debug-registers.ts),
 * software breakpoints as int3 bytes written into guest memory (the originals kept), decoding of
 * KVM_EXIT_DEBUG into a DebugStop, stepping over a breakpoint the vCPU resumes at, exact
 * instruction stepping, and guest-virtual → physical translation (KVM_TRANSLATE, then the page
 * walk of page-walk.ts).
 *
 * KVM facts this relies on (arch/x86/kvm/x86.c, svm/svm.c, vmx/vmx.c):
 * - Single-step sets RFLAGS.TF behind the guest's back, and only while RIP is where it was at
 *   KVM_SET_GUEST_DEBUG (`singlestep_rip`): KVM_SET_REGS with another RIP drops TF. So the
 *   control is sent before every run, after the registers are pushed.
 * - A step over an instruction KVM completes itself (port I/O, MMIO) ends in a debug exit KVM
 *   makes in software (DR6.BS), on the KVM_RUN that completes it: one step is still one
 *   instruction.
 * - An instruction breakpoint is a fault: the exit reports the breakpoint's address and the
 *   instruction has not run; resuming there would hit it again, so the vCPU steps over it with
 *   that slot disabled (the same for a software breakpoint, with the original byte back).
 *   Watchpoints are traps: pc is the instruction after the access.
 * - With USE_SW_BP every int3 (host-set or the guest's own) is a debug exit, exception 3. The
 *   pc KVM reports is normalised to the int3's address (see `softwareBreakpointStop`).
 */
import {
  ConfigError,
  HwDebugSlots,
  KvmGuestDebug,
  Stop,
  describeValue,
  type CpuStop,
  type DebugStop,
  type GuestDebug,
  type GuestMemory,
  type GuestTranslation,
  type HwDebugPoint,
  type StepRecord,
  type StepTrace,
  type Watchpoint,
} from '@kvmts/core';
import { X86GuestDebug as GuestDebugBits } from '../abi/constants';
import { X86Ioctl } from '../abi/ioctls';
import { X86GuestDebugLayout, X86KvmRunLayout, X86TranslationLayout } from '../abi/layouts';
import type { X86Regs } from '../abi/regs-codec';
import type { X86Sregs2 } from '../abi/sregs-codec';
import type { X86GprName } from '../abi/registers';
import { X86_HW_DEBUG_SLOTS, checkX86Watchpoint, decodeDr6, encodeDebugRegisters } from './debug-registers';
import { walkPageTables, type PageWalkResult, type PhysReader } from './page-walk';

const DB_VECTOR = 1;
const BP_VECTOR = 3;
const INT3 = 0xcc;
const PAGE = 0x1000n;
const U64 = (1n << 64n) - 1n;

const EXIT = {
  exception: X86KvmRunLayout.fields['debug.arch.exception'].offset,
  pc: X86KvmRunLayout.fields['debug.arch.pc'].offset,
  dr6: X86KvmRunLayout.fields['debug.arch.dr6'].offset,
} as const;
const DEBUGREG = X86GuestDebugLayout.fields['arch.debugreg'];

/**
 * What the debugger needs of its vCPU (X86KvmCPU provides it): the kvm_run view, registers, the
 * run loop, and its vCPU ioctls. A narrow interface so the decoding and stepping logic can be
 * unit-tested with a stand-in where the test tier's emulated CPU cannot raise the exits.
 */
export interface X86DebugTarget {
  readonly run: DataView;
  getRegs(): X86Regs;
  setRegs(regs: Partial<Record<X86GprName, bigint>>): void;
  getSregs(): X86Sregs2;
  /** Push modified state to KVM now. */
  syncToKvm(): void;
  /** One run of the vCPU's own loop (the debugger's `run` wraps the CPU's). */
  runLoop(maxExits?: number): CpuStop;
  /** A vCPU ioctl (KVM_SET_GUEST_DEBUG, KVM_TRANSLATE): throws KvmError on failure. */
  vcpuIoctl(request: number, op: string, arg: Uint8Array): number;
}

/** Guest-physical memory as the debugger reads and patches it (core's GuestMemory). */
export type DebugMemory = Pick<GuestMemory, 'bytes' | 'read' | 'view'>;

interface SwBreakpoint {
  readonly gpa: number;
  readonly original: number;
}

function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

export function isStepStop(stop: CpuStop): stop is DebugStop & { kind: 'step' } {
  return stop.reason === 'debug' && 'kind' in stop && stop.kind === 'step';
}

/** A guest-virtual address as the API takes it: a bigint in 0..2^64-1 (a number is a ConfigError, not a TypeError from bigint arithmetic). */
function checkAddress(setting: string, address: unknown): bigint {
  if (typeof address !== 'bigint' || address < 0n || address > U64) {
    throw new ConfigError(setting, `expected a 64-bit address as a bigint (e.g. 0x8000n), got ${describeValue(address)}`);
  }
  return address;
}

export class X86GuestDebugger implements GuestDebug {
  readonly hwSlotCount = X86_HW_DEBUG_SLOTS;
  /** Single-step: each run stops after one instruction. */
  singleStep = false;
  private readonly slots = new HwDebugSlots(X86_HW_DEBUG_SLOTS);
  private readonly sw = new Map<bigint, SwBreakpoint>();
  /** A slot held disabled while the vCPU steps over its breakpoint (-1: none). */
  private skipSlot = -1;
  private readonly control = new Uint8Array(X86GuestDebugLayout.size);
  private readonly translation = new Uint8Array(X86TranslationLayout.size);
  private readonly readPhys: PhysReader;

  /**
   * @param supportedControl KVM_CHECK_EXTENSION(KVM_CAP_SET_GUEST_DEBUG2): the control bits this
   *   KVM accepts (0 on kernels that predate the capability: the classic bits, no BLOCKIRQ).
   */
  constructor(
    private readonly cpu: X86DebugTarget,
    private readonly memory: DebugMemory,
    private readonly supportedControl: number,
  ) {
    this.readPhys = (gpa, size) => {
      if (gpa > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
      try {
        const v = memory.view(Number(gpa), size);
        return size === 8 ? v.getBigUint64(0, true) : BigInt(v.getUint32(0, true));
      } catch (e) {
        if (e instanceof ConfigError) return undefined; // no RAM there
        throw e;
      }
    };
    this.send(false); // attached: guest int3s stop the vCPU from now on
  }

  // ---- breakpoints and watchpoints ---------------------------------------------------------

  addSwBreakpoint(address: bigint): void {
    checkAddress('guestDebug.swBreakpoint', address);
    if (this.sw.has(address)) return;
    const gpa = this.physicalFor(address, 'guestDebug.swBreakpoint');
    const alias = [...this.sw.values()].find((b) => b.gpa === gpa);
    const byte = this.memory.bytes(gpa, 1);
    this.sw.set(address, { gpa, original: alias?.original ?? byte[0] });
    byte[0] = INT3;
  }

  removeSwBreakpoint(address: bigint): void {
    const bp = this.sw.get(address);
    if (bp === undefined) throw new ConfigError('guestDebug.swBreakpoint', `no software breakpoint is set at ${hex(address)}`);
    this.sw.delete(address);
    if (![...this.sw.values()].some((b) => b.gpa === bp.gpa)) this.memory.bytes(bp.gpa, 1)[0] = bp.original;
  }

  swBreakpoints(): bigint[] {
    return [...this.sw.keys()];
  }

  addHwBreakpoint(address: bigint): number {
    checkAddress('guestDebug.hwBreakpoint', address);
    return this.slots.claim({ type: 'breakpoint', address });
  }

  removeHwBreakpoint(address: bigint): void {
    this.slots.release({ type: 'breakpoint', address });
  }

  addWatchpoint(w: Watchpoint): number {
    checkAddress('guestDebug.watchpoint.address', w?.address);
    checkX86Watchpoint(w.address, w.length, w.kind);
    return this.slots.claim({ type: 'watchpoint', address: w.address, length: w.length, kind: w.kind });
  }

  removeWatchpoint(w: Watchpoint): void {
    this.slots.release({ type: 'watchpoint', address: w.address, length: w.length, kind: w.kind });
  }

  hwSlots(): readonly (HwDebugPoint | undefined)[] {
    return this.slots.list();
  }

  clear(): void {
    for (const a of this.swBreakpoints()) this.removeSwBreakpoint(a);
    this.slots.clear();
    this.singleStep = false;
  }

  /** Clear everything and turn KVM's guest debugging off (the guest gets its own #DB/#BP back). */
  detach(): void {
    this.clear();
    this.cpu.syncToKvm();
    this.control.fill(0);
    this.cpu.vcpuIoctl(X86Ioctl.SET_GUEST_DEBUG, 'KVM_SET_GUEST_DEBUG', this.control);
  }

  // ---- running -----------------------------------------------------------------------------

  /**
   * One run with debugging on (X86KvmCPU.runLoop calls this): when the vCPU stands on one of our
   * breakpoints, lift it for one step first, so resuming does not stop where it stopped.
   */
  run(maxExits: number | undefined, runLoop: (maxExits?: number) => CpuStop): CpuStop {
    const pc = this.sw.size > 0 || this.hasHwBreakpoints() ? this.currentPc() : undefined;
    const sw = pc === undefined ? undefined : this.sw.get(pc);
    const slot = pc === undefined ? -1 : this.slots.indexOf({ type: 'breakpoint', address: pc });
    if (sw === undefined && slot < 0) {
      this.send(this.singleStep);
      return runLoop(maxExits);
    }
    let stop: CpuStop;
    if (sw !== undefined) this.memory.bytes(sw.gpa, 1)[0] = sw.original;
    this.skipSlot = slot;
    try {
      this.send(true);
      stop = runLoop();
    } finally {
      if (sw !== undefined && this.sw.get(pc!) === sw) this.memory.bytes(sw.gpa, 1)[0] = INT3;
      this.skipSlot = -1;
    }
    if (!isStepStop(stop) || this.singleStep) return stop;
    this.send(false);
    return runLoop(maxExits);
  }

  stepInstructions(n: number): StepTrace {
    if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError('guestDebug.stepInstructions', `the number of instructions must be a non-negative integer, got ${n}`);
    const steps: StepRecord[] = [];
    const previous = this.singleStep;
    this.singleStep = true;
    let stop: CpuStop = Stop.debug;
    try {
      while (steps.length < n) {
        stop = this.cpu.runLoop();
        // A watchpoint is a trap: its instruction completed, so it counts, and ends the walk.
        if (isStepStop(stop) || (stop.reason === 'debug' && 'kind' in stop && stop.kind === 'watchpoint')) steps.push({ pc: stop.pc });
        if (!isStepStop(stop)) break;
      }
    } finally {
      this.singleStep = previous;
    }
    return { steps, stop };
  }

  /** KVM_EXIT_DEBUG → DebugStop (X86KvmCPU.handleDebugExit calls this). */
  decodeExit(): CpuStop {
    const v = this.cpu.run;
    const exception = v.getUint32(EXIT.exception, true);
    const pc = v.getBigUint64(EXIT.pc, true);
    const dr6 = v.getBigUint64(EXIT.dr6, true);
    if (exception === BP_VECTOR) return this.softwareBreakpointStop(pc, dr6);
    if (exception !== DB_VECTOR) return Stop.debug;
    const enabled = this.slots.list().map((p, i) => p !== undefined && i !== this.skipSlot);
    const { slot, singleStep } = decodeDr6(dr6, enabled);
    if (slot !== undefined) {
      const point = this.slots.get(slot)!;
      return { reason: 'debug', kind: point.type === 'breakpoint' ? 'hw-breakpoint' : 'watchpoint', pc, address: point.address, slot, status: dr6 };
    }
    if (singleStep) return { reason: 'debug', kind: 'step', pc, status: dr6 };
    return Stop.debug;
  }

  /**
   * Exception 3. KVM reports CS.base + the RIP saved at the #BP intercept (vmx.c
   * handle_exception_nmi, svm.c bp_interception): the int3's own address on VMX, where the exit
   * comes before the software exception is delivered, and the same on SVM's exception
   * intercept. Not measurable in the nested-x86 tier (its emulated CPU never takes the
   * intercept), so the stop is normalised either way: if the byte at pc is not an int3 but the
   * byte before it is, RIP is moved back onto the int3. The stop's pc is the breakpoint's address.
   */
  private softwareBreakpointStop(pc: bigint, dr6: bigint): DebugStop {
    let at = pc;
    if (!this.isInt3At(pc) && this.isInt3At(pc - 1n)) {
      at = pc - 1n;
      this.cpu.setRegs({ rip: this.cpu.getRegs().rip - 1n });
    }
    return { reason: 'debug', kind: 'sw-breakpoint', pc: at, address: at, status: dr6 };
  }

  private isInt3At(gva: bigint): boolean {
    if (this.sw.has(gva)) return true;
    const t = this.translate(gva);
    if (!t.valid) return false;
    const word = this.readPhys(t.gpa & ~3n, 4);
    return word !== undefined && Number((word >> (8n * (t.gpa & 3n))) & 0xffn) === INT3;
  }

  // ---- translation and memory --------------------------------------------------------------

  /** KVM_TRANSLATE; when it fails or says invalid, the page walk. */
  translate(gva: bigint): GuestTranslation {
    checkAddress('guestDebug.translate', gva);
    const kvm = this.kvmTranslate(gva);
    const walk = this.walk(gva);
    if (kvm !== undefined && kvm.valid) {
      // KVM's writeable/usermode are constants (1, 0); the walk knows the real bits when it agrees.
      const agree = walk.valid && walk.gpa === kvm.gpa;
      return { gva, valid: true, gpa: kvm.gpa, source: 'kvm', ...(agree ? { writable: walk.writable, user: walk.user } : {}) };
    }
    if (walk.valid) return { gva, valid: true, gpa: walk.gpa, writable: walk.writable, user: walk.user, source: 'walk' };
    return { gva, valid: false, gpa: 0n, source: 'walk' };
  }

  /** KVM_TRANSLATE alone: undefined when the ioctl fails. */
  kvmTranslate(gva: bigint): { valid: boolean; gpa: bigint } | undefined {
    this.cpu.syncToKvm(); // KVM walks with the paging registers it holds
    const b = this.translation;
    b.fill(0);
    const v = new DataView(b.buffer);
    v.setBigUint64(X86TranslationLayout.fields.linear_address.offset, gva & U64, true);
    try {
      this.cpu.vcpuIoctl(X86Ioctl.TRANSLATE, 'KVM_TRANSLATE', b);
    } catch {
      return undefined;
    }
    return { valid: b[X86TranslationLayout.fields.valid.offset] !== 0, gpa: v.getBigUint64(X86TranslationLayout.fields.physical_address.offset, true) };
  }

  /** The software page walk with the vCPU's current CR0/CR3/CR4/EFER. */
  walk(gva: bigint): PageWalkResult {
    const s = this.cpu.getSregs();
    return walkPageTables(gva, { cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer }, this.readPhys);
  }

  readVirtual(gva: bigint, length: number): Uint8Array {
    checkAddress('guestDebug.readVirtual', gva);
    if (!Number.isSafeInteger(length) || length < 0) throw new ConfigError('guestDebug.readVirtual', `length must be a non-negative integer, got ${length}`);
    const out = new Uint8Array(length);
    for (let done = 0; done < length; ) {
      const at = gva + BigInt(done);
      const chunk = Math.min(length - done, Number(PAGE - (at % PAGE)));
      const gpa = this.physicalFor(at, 'guestDebug.readVirtual');
      out.set(this.memory.read(gpa, chunk), done);
      for (const bp of this.sw.values()) {
        if (bp.gpa >= gpa && bp.gpa < gpa + chunk) out[done + bp.gpa - gpa] = bp.original;
      }
      done += chunk;
    }
    return out;
  }

  // ---- internals ---------------------------------------------------------------------------

  private physicalFor(gva: bigint, setting: string): number {
    const t = this.translate(gva);
    if (!t.valid) throw new ConfigError(setting, `guest-virtual ${hex(gva)} is not mapped by the guest's page tables`);
    if (t.gpa > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConfigError(setting, `guest-virtual ${hex(gva)} maps to ${hex(t.gpa)}, beyond host-addressable guest memory`);
    return Number(t.gpa);
  }

  private hasHwBreakpoints(): boolean {
    return this.slots.list().some((p) => p?.type === 'breakpoint');
  }

  /** The linear address of the next instruction: CS.base + RIP. */
  private currentPc(): bigint {
    return (this.cpu.getSregs().cs.base + this.cpu.getRegs().rip) & U64;
  }

  /**
   * KVM_SET_GUEST_DEBUG with the current slots (minus the one being stepped over). Registers are
   * pushed first: KVM arms single-step for the RIP it holds at this call.
   */
  private send(step: boolean): void {
    this.cpu.syncToKvm();
    const image = encodeDebugRegisters(this.slots.list(), this.skipSlot);
    let control = KvmGuestDebug.ENABLE | GuestDebugBits.USE_SW_BP;
    if (image.dr7 !== 0n) control |= GuestDebugBits.USE_HW_BP;
    // BLOCKIRQ keeps a pending interrupt from turning one step into a jump to its handler.
    if (step) control |= KvmGuestDebug.SINGLESTEP | (this.supportedControl & GuestDebugBits.BLOCKIRQ);
    const b = this.control;
    b.fill(0);
    const v = new DataView(b.buffer);
    v.setUint32(X86GuestDebugLayout.fields.control.offset, control >>> 0, true);
    image.addresses.forEach((a, i) => v.setBigUint64(DEBUGREG.offset + i * DEBUGREG.stride, a & U64, true));
    v.setBigUint64(DEBUGREG.offset + 7 * DEBUGREG.stride, image.dr7, true);
    this.cpu.vcpuIoctl(X86Ioctl.SET_GUEST_DEBUG, 'KVM_SET_GUEST_DEBUG', b);
  }
}
