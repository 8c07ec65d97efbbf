/**
 * x86 hardware debug registers as KVM_SET_GUEST_DEBUG takes them (kvm_guest_debug_arch.debugreg:
 * DR0–DR3 addresses, DR7 control) and as KVM_EXIT_DEBUG reports them (DR6 status): pure
 * encoding and decoding, from tables (Intel SDM vol. 3 §18.2, AMD APM vol. 2 §13.1).
 */
import { ConfigError, type HwDebugPoint, type WatchKind } from '@kvmts/core';

/** x86 has four address slots, DR0–DR3, shared by instruction breakpoints and watchpoints. */
export const X86_HW_DEBUG_SLOTS = 4;

/** DR7 bits of each slot: its global-enable bit, and where its R/W and LEN fields start. */
export const DR7_SLOT_FIELDS = [
  { globalEnable: 1, rw: 16, len: 18 },
  { globalEnable: 3, rw: 20, len: 22 },
  { globalEnable: 5, rw: 24, len: 26 },
  { globalEnable: 7, rw: 28, len: 30 },
] as const;

/**
 * DR7 bits set whenever any slot is: GE ("global exact", recommended by both vendors for data
 * breakpoints) and bit 10, which reads as 1.
 */
export const DR7_GE = 1n << 9n;
export const DR7_FIXED_ONE = 1n << 10n;

/**
 * DR7 R/W field values. 0b10 means I/O breakpoints (with CR4.DE) — x86 has no read-only data
 * watchpoint, so 'read' has no encoding.
 */
export const DR7_RW = { execute: 0b00n, write: 0b01n, 'read-write': 0b11n } as const;

/** DR7 LEN field per watched length in bytes (note 8 = 0b10: it was added last). */
export const DR7_LEN: Readonly<Record<number, bigint>> = { 1: 0b00n, 2: 0b01n, 4: 0b11n, 8: 0b10n };

/** DR6 status bits KVM_EXIT_DEBUG reports: B0–B3 (slot n hit) and BS (single step). */
export const DR6_BS = 1n << 14n;
export const DR6_SLOT_HIT_MASK = 0xfn;

/**
 * Check that a watchpoint can be encoded: a kind x86 has, a length of 1, 2, 4 or 8 bytes, and an
 * address aligned to that length (the CPU ignores the low address bits, so an unaligned
 * watchpoint would silently watch other bytes).
 */
export function checkX86Watchpoint(address: bigint, length: number, kind: WatchKind): void {
  if (kind === 'read') {
    throw new ConfigError('guestDebug.watchpoint.kind', `x86 has no read-only watchpoint (DR7 R/W = 10 is I/O); use 'read-write' (stops on reads and writes) or 'write'`);
  }
  if (!(kind in DR7_RW)) throw new ConfigError('guestDebug.watchpoint.kind', `unknown watchpoint kind '${String(kind)}' (x86 has 'write' and 'read-write')`);
  if (DR7_LEN[length] === undefined) throw new ConfigError('guestDebug.watchpoint.length', `x86 watches 1, 2, 4 or 8 bytes, not ${length}`);
  if (address < 0n || address >= 1n << 64n) throw new ConfigError('guestDebug.watchpoint.address', `0x${address.toString(16)} is not a 64-bit address`);
  if (address % BigInt(length) !== 0n) {
    throw new ConfigError('guestDebug.watchpoint.address', `a ${length}-byte x86 watchpoint must be ${length}-byte aligned: 0x${address.toString(16)} is not`);
  }
}

/** DR0–DR3 and DR7 for KVM_SET_GUEST_DEBUG (kvm_guest_debug_arch.debugreg[0..3], [7]). */
export interface X86DebugRegisterImage {
  readonly addresses: readonly [bigint, bigint, bigint, bigint];
  readonly dr7: bigint;
}

/**
 * Encode the slots (index = DR number; undefined = free; `skip` = a slot left disabled for one
 * step, when the vCPU resumes at that slot's breakpoint).
 */
export function encodeDebugRegisters(slots: readonly (HwDebugPoint | undefined)[], skip = -1): X86DebugRegisterImage {
  if (slots.length > X86_HW_DEBUG_SLOTS) throw new ConfigError('guestDebug.hwSlots', `x86 has ${X86_HW_DEBUG_SLOTS} debug slots, got ${slots.length}`);
  const addresses: [bigint, bigint, bigint, bigint] = [0n, 0n, 0n, 0n];
  let dr7 = 0n;
  slots.forEach((point, i) => {
    if (point === undefined || i === skip) return;
    const f = DR7_SLOT_FIELDS[i];
    let rw: bigint = DR7_RW.execute;
    let len = 0n; // instruction breakpoints must use LEN = 00
    if (point.type === 'watchpoint') {
      checkX86Watchpoint(point.address, point.length, point.kind);
      rw = DR7_RW[point.kind as keyof typeof DR7_RW];
      len = DR7_LEN[point.length];
    }
    addresses[i] = point.address;
    dr7 |= (1n << BigInt(f.globalEnable)) | (rw << BigInt(f.rw)) | (len << BigInt(f.len));
  });
  if (dr7 !== 0n) dr7 |= DR7_GE | DR7_FIXED_ONE;
  return { addresses, dr7 };
}

/** What DR6 says hit: the lowest slot among `enabled` whose B bit is set, and whether BS is. */
export function decodeDr6(dr6: bigint, enabled: readonly boolean[]): { readonly slot: number | undefined; readonly singleStep: boolean } {
  let slot: number | undefined;
  for (let i = 0; i < X86_HW_DEBUG_SLOTS; i++) {
    if (enabled[i] && ((dr6 >> BigInt(i)) & 1n) === 1n) {
      slot = i;
      break;
    }
  }
  return { slot, singleStep: (dr6 & DR6_BS) !== 0n };
}
