/**
 * The register dump attached to GuestErrors and printed by `kvmts dump`: general registers,
 * PSTATE decoded, exception state, FP/SIMD and the synced system registers, from the same
 * tables the sync uses.
 */
import { ARM64_CORE_REGISTERS, ARM64_FP_REGISTERS, ARM64_X_NAMES } from '../abi';
import type { ArmV8Registers } from './register-classes';

const hex = (v: bigint, digits = 16): string => '0x' + v.toString(16).padStart(digits, '0');

/** PSTATE.M[4:0] of the AArch64 modes KVM accepts. */
const MODES: Readonly<Record<number, string>> = { 0x0: 'EL0t', 0x4: 'EL1t', 0x5: 'EL1h', 0x8: 'EL2t', 0x9: 'EL2h' };

/** PSTATE as text: mode, then NZCV and DAIF with set flags in capitals (e.g. 'EL1h nZcv DAIF'). */
export function describePstate(pstate: bigint): string {
  const p = Number(pstate & 0xffff_ffffn);
  const mode = p & 0x10 ? `AArch32 mode 0x${(p & 0x1f).toString(16)}` : (MODES[p & 0xf] ?? `M=0x${(p & 0xf).toString(16)}`);
  const flags = (names: string, top: number): string => [...names].map((c, i) => (p & (1 << (top - i)) ? c.toUpperCase() : c)).join('');
  return `${mode} ${flags('nzcv', 31)} ${flags('daif', 9)}`;
}

function columns(entries: readonly [string, string][], perLine: number, width: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < entries.length; i += perLine) {
    lines.push(entries.slice(i, i + perLine).map(([n, v]) => `${n.padStart(width)}: ${v}`).join('  '));
  }
  return lines;
}

/** `syncedSys`: the system registers this KVM has (the others are not shown: they were never read). */
export function formatArmV8Dump(regs: ArmV8Registers, syncedSys: readonly string[]): string {
  const core = regs.core;
  const x = ARM64_X_NAMES.map((n) => [n, hex(core[n])] as [string, string]);
  const special = ARM64_CORE_REGISTERS.filter((r) => !(ARM64_X_NAMES as readonly string[]).includes(r.name)).map((r) => [r.name, hex(core[r.name])] as [string, string]);
  const v = ARM64_FP_REGISTERS.map((r) => [r.name, hex(regs.fp[r.name], r.name.startsWith('v') ? 32 : 8)] as [string, string]);
  const sys = syncedSys.map((n) => [n, hex((regs.sys as Record<string, bigint>)[n])] as [string, string]);
  return [
    ...columns(x, 4, 3),
    ...columns(special, 3, 8),
    `  pstate: ${describePstate(core.pstate)}`,
    ...columns(v, 2, 4),
    ...columns(sys, 3, 14),
  ].join('\n');
}
