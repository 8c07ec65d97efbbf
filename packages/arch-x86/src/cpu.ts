import { inject, injectable } from 'tsyringe';
import {
  BaseKvmCPU,
  KvmExitReason,
  KvmIoctl,
  KvmRunLayout as R,
  Stop,
  UNCLAIMED,
  VCPU_SETUP,
  kvmIoctl,
  type AccessSize,
  type AddressBus,
  type CpuStop,
  type VcpuSetup,
} from '@kvmts/core';
import { X86Ioctl } from './abi/ioctls';
import { X86RegsLayout, X86SregsLayout } from './abi/layouts';
import { X86_GPR_NAMES, X86_SEGMENT_NAMES, X86_DTABLE_NAMES, X86_SREGS_U64, type X86GprName } from './abi/registers';
import { decodeRegs, encodeRegs } from './abi/regs-codec';
import { decodeSregs, encodeSregs, type X86DTable, type X86Segment, type X86Sregs } from './abi/sregs-codec';
import { X86ThreadContext } from './state/thread-context';
import { encodeCpuid2, type CpuidEntry } from './state/cpuid';
import { X86_PORT_IO_SPACE } from './address-spaces';

/** KVM_EXIT_IO direction byte. */
const IO_OUT = 1;

// Offsets and markers read once at load: the compiled re-exports of @kvmts/core are getters,
// and reading them per exit costs more than the rest of the PIO handler (measured by the bench).
const IO_DIRECTION = R.io_direction;
const IO_SIZE = R.io_size;
const IO_PORT = R.io_port;
const IO_COUNT = R.io_count;
const IO_DATA_OFFSET = R.io_data_offset;
const NO_DEVICE = UNCLAIMED;

/** What prepareBoot hands each vCPU thread (plain data). */
export interface X86InitialState {
  /** Guest CPUID table (KVM_SET_CPUID2) — set before anything else, KVM derives behaviour from it. */
  readonly cpuid?: readonly CpuidEntry[];
  /** Special registers merged over the vCPU's reset values. */
  readonly sregs?: Partial<Record<keyof X86Sregs, unknown>>;
  /** General registers merged over the reset values. */
  readonly regs?: Partial<Record<X86GprName, bigint>>;
  /**
   * KVM_SET_MP_STATE value (KVM_MP_STATE_*). With an in-kernel irqchip, application processors
   * start UNINITIALIZED (waiting for INIT/SIPI); a flat boot that starts every vCPU at its entry
   * sets them RUNNABLE (0).
   */
  readonly mpState?: number;
}

/**
 * The x86-64 KVM CPU: registers ⇄ X86ThreadContext through KVM_GET/SET_REGS and _SREGS, port
 * I/O through the port-I/O bus (string I/O included), HLT, and SHUTDOWN (triple fault) as a
 * GuestError with a register dump. Resolved from a vCPU's container (KVM_CPU); to change it,
 * register a subclass there (docs/architecture.md shows how).
 */
@injectable()
export class X86KvmCPU extends BaseKvmCPU<X86InitialState, X86ThreadContext> {
  readonly arch = 'x86_64';
  /** The port-I/O bus (address space 'pio'). */
  readonly pio: AddressBus;
  private readonly tc = new X86ThreadContext();
  private readonly regsBuf = new DataView(new ArrayBuffer(X86RegsLayout.size));
  private readonly sregsBuf = new DataView(new ArrayBuffer(X86SregsLayout.size));

  constructor(@inject(VCPU_SETUP) setup: VcpuSetup) {
    super(setup);
    this.pio = setup.buses.require(X86_PORT_IO_SPACE.name, `vCPU ${this.id}`);
    this.coalescedPioBus = this.pio;
    this.setExitHandler(KvmExitReason.IO, (cpu) => (cpu as X86KvmCPU).handleIo());
    this.setExitHandler(KvmExitReason.HLT, () => Stop.halted);
    // The dump attached here is what KVM holds after the exit: the faulting context on PVM and
    // VMX, but reset state on SVM, whose VMCB is undefined after a shutdown intercept.
    this.setExitHandler(KvmExitReason.SHUTDOWN, (cpu) => {
      throw cpu.guestError('triple-fault', 'the guest triple-faulted (KVM_EXIT_SHUTDOWN): an exception occurred that the guest could not deliver');
    });
  }

  protected get threadContext(): X86ThreadContext {
    return this.tc;
  }

  protected updateThreadContext(): void {
    kvmIoctl(this.fd, X86Ioctl.GET_REGS, 'KVM_GET_REGS', this.regsBuf);
    decodeRegs(this.regsBuf, this.tc.regs);
    kvmIoctl(this.fd, X86Ioctl.GET_SREGS, 'KVM_GET_SREGS', this.sregsBuf);
    decodeSregs(this.sregsBuf, this.tc.sregs);
  }

  protected updateKvmState(): void {
    // SREGS first: it sets the mode (CR0/EFER/CS) that RIP and RFLAGS are interpreted in.
    encodeSregs(this.tc.sregs, this.sregsBuf);
    kvmIoctl(this.fd, X86Ioctl.SET_SREGS, 'KVM_SET_SREGS', this.sregsBuf);
    encodeRegs(this.tc.regs, this.regsBuf);
    kvmIoctl(this.fd, X86Ioctl.SET_REGS, 'KVM_SET_REGS', this.regsBuf);
  }

  protected loadThreadContext(tc: X86ThreadContext): void {
    this.tc.copyFrom(tc);
  }

  /** Set CPUID, then the MP state, then merge registers over the reset state and push them. */
  applyInitialState(state: X86InitialState = {}): void {
    if (state.cpuid) kvmIoctl(this.fd, X86Ioctl.SET_CPUID2, 'KVM_SET_CPUID2', encodeCpuid2(state.cpuid));
    if (state.mpState !== undefined) {
      const mp = new DataView(new ArrayBuffer(4));
      mp.setUint32(0, state.mpState, true);
      kvmIoctl(this.fd, KvmIoctl.SET_MP_STATE, 'KVM_SET_MP_STATE', mp);
    }
    if (!state.regs && !state.sregs) return;
    const tc = this.getThreadContext();
    if (state.sregs) mergeSregs(tc.sregs, state.sregs);
    if (state.regs) Object.assign(tc.regs, state.regs);
    this.markThreadContextDirty();
    this.syncToKvm();
  }

  /** Convenience: the registers (pulled from KVM if it is newer). */
  getRegs() {
    return this.getThreadContext().regs;
  }

  /** Change some general registers; pushed before the next run. */
  setRegs(regs: Partial<Record<X86GprName, bigint>>): void {
    this.markThreadContextDirty();
    Object.assign(this.tc.regs, regs);
  }

  getSregs(): X86Sregs {
    return this.getThreadContext().sregs;
  }

  setSregs(sregs: Partial<Record<keyof X86Sregs, unknown>>): void {
    this.markThreadContextDirty();
    mergeSregs(this.tc.sregs, sregs);
  }

  /**
   * KVM_EXIT_IO: `count` elements of `size` bytes at kvm_run + data_offset, all for the same
   * port (count > 1 is rep ins/outs). Reads fill the buffer; KVM copies it into the guest on
   * the next KVM_RUN.
   */
  private handleIo(): CpuStop | undefined {
    const v = this.run;
    const out = v.getUint8(IO_DIRECTION) === IO_OUT;
    const size = v.getUint8(IO_SIZE) as AccessSize;
    const port = v.getUint16(IO_PORT, true);
    const count = v.getUint32(IO_COUNT, true);
    let at = v.getUint32(IO_DATA_OFFSET, true);
    const bus = this.pio;
    for (let i = 0; i < count; i++, at += size) {
      if (out) {
        const value = size === 1 ? v.getUint8(at) : size === 2 ? v.getUint16(at, true) : v.getUint32(at, true);
        if (!bus.write(port, size, value, 0)) this.unclaimed('port write', port, size);
      } else {
        let value = bus.read(port, size);
        if (value === NO_DEVICE) {
          this.unclaimed('port read', port, size);
          value = 0xffffffff;
        }
        if (size === 1) v.setUint8(at, value & 0xff);
        else if (size === 2) v.setUint16(at, value & 0xffff, true);
        else v.setUint32(at, value, true);
      }
    }
    return undefined;
  }

  /** gem5-style register dump: general registers, then segments, tables and control registers. */
  dumpState(): string {
    const { regs, sregs } = this.getThreadContext();
    const hex = (v: bigint) => '0x' + v.toString(16).padStart(16, '0');
    const lines: string[] = [];
    for (let i = 0; i < X86_GPR_NAMES.length; i += 4) {
      lines.push(X86_GPR_NAMES.slice(i, i + 4).map((n) => `${n.padStart(6)}: ${hex(regs[n])}`).join('  '));
    }
    for (const n of X86_SEGMENT_NAMES) {
      const s: X86Segment = sregs[n];
      lines.push(`${n.padStart(6)}: sel=0x${s.selector.toString(16).padStart(4, '0')} base=${hex(s.base)} limit=0x${s.limit.toString(16).padStart(8, '0')} type=0x${s.type.toString(16)} p=${s.present} dpl=${s.dpl} db=${s.db} s=${s.s} l=${s.l} g=${s.g} avl=${s.avl} unusable=${s.unusable}`);
    }
    for (const n of X86_DTABLE_NAMES) {
      const d: X86DTable = sregs[n];
      lines.push(`${n.padStart(6)}: base=${hex(d.base)} limit=0x${d.limit.toString(16).padStart(4, '0')}`);
    }
    lines.push(X86_SREGS_U64.map((r) => `${r.name}=${hex(sregs[r.name])}`).join(' '));
    return lines.join('\n');
  }
}

/** Merge partial special registers (segments/tables merged field by field) into `target`. */
function mergeSregs(target: X86Sregs, patch: Partial<Record<keyof X86Sregs, unknown>>): void {
  const t = target as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    const cur = t[key];
    if (cur !== null && typeof cur === 'object' && !Array.isArray(cur) && typeof value === 'object') Object.assign(cur, value);
    else t[key] = value;
  }
}
