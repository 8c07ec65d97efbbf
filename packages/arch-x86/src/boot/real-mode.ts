/**
 * 16-bit real mode at an arbitrary CS:IP — the state a CPU is in after reset, but with the
 * segments of your choice instead of the reset vector at 0xf000:0xfff0. No memory is written:
 * real mode needs no tables (the IVT at 0 is only used if the guest takes an interrupt).
 */
import { ConfigError } from '@kvmts/core';
import { CR0_RESET, RFLAGS } from './control-registers';
import type { ModeSetup } from './mode-setup';
import { SEGMENT_TYPE, type SegmentFields } from './segment';

export interface RealModeOptions {
  /** Code segment selector; CS.base = cs << 4. Default 0. */
  readonly cs?: number;
  /** IP at start (offset into CS). */
  readonly ip: number;
  /** Stack segment. Default 0. */
  readonly ss?: number;
  /** SP at start (offset into SS). */
  readonly sp: number;
  /** DS, ES, FS and GS. Default `cs`. */
  readonly ds?: number;
}

function check16(setting: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new ConfigError(setting, `must be a 16-bit value, got ${value}`);
  }
  return value;
}

/** A real-mode segment register: base = selector · 16, 64 KiB limit, present, DPL 0. */
export function realModeSegment(selector: number, type: number): SegmentFields {
  return {
    base: BigInt(selector) << 4n,
    limit: 0xffff,
    selector,
    type,
    present: 1,
    dpl: 0,
    db: 0,
    s: 1,
    l: 0,
    g: 0,
    avl: 0,
    unusable: 0,
  };
}

/** TR and LDTR as KVM's vCPU reset leaves them; VM entry checks want them present even in real mode. */
export function resetSystemSegment(type: number): SegmentFields {
  return { base: 0n, limit: 0xffff, selector: 0, type, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 0 };
}

export function realModeSetup(options: RealModeOptions): ModeSetup {
  const cs = check16('realMode.cs', options.cs ?? 0);
  const ss = check16('realMode.ss', options.ss ?? 0);
  const ds = check16('realMode.ds', options.ds ?? cs);
  const ip = check16('realMode.ip', options.ip);
  const sp = check16('realMode.sp', options.sp);
  const data = (): SegmentFields => realModeSegment(ds, SEGMENT_TYPE.DATA_RW_ACCESSED);
  return {
    memoryWrites: [],
    sregs: {
      cs: realModeSegment(cs, SEGMENT_TYPE.CODE_XR_ACCESSED),
      ds: data(),
      es: data(),
      fs: data(),
      gs: data(),
      ss: realModeSegment(ss, SEGMENT_TYPE.DATA_RW_ACCESSED),
      tr: resetSystemSegment(SEGMENT_TYPE.TSS_BUSY),
      ldt: resetSystemSegment(SEGMENT_TYPE.LDT),
      gdt: { base: 0n, limit: 0xffff },
      // The real-mode interrupt vector table: 256 four-byte vectors at 0.
      idt: { base: 0n, limit: 0x3ff },
      cr0: CR0_RESET,
      cr3: 0n,
      cr4: 0n,
      efer: 0n,
    },
    regs: { rip: BigInt(ip), rsp: BigInt(sp), rflags: RFLAGS.FIXED },
  };
}
