/**
 * Register tables for GIC state transfer — the one shape every GIC part (GICv2 distributor and
 * CPU interface, GICv3 distributor, redistributors, ICC system registers) describes its state in,
 * and the generic engine that saves and restores state through such a table.
 *
 * A table row is a register (or a run of per-INTID registers) as the architecture lays it out:
 * its frame, byte offset, access width, bits per INTID and whether each CPU has its own copy.
 * How many words a row spans is derived from the GIC's INTID count, never written down: the
 * distributor of a GIC with N INTIDs has N/32 words of a 1-bit array, N/4 of IPRIORITYR, N/16 of
 * ICFGR (gem5 copies every GICv3 array with "itLines/8" bytes, which is wrong for all but the
 * 1-bit ones). The table's order is the restore order (configuration before pending state).
 *
 * The engine reads and writes through a GicRegisterAccess: the userspace model, or an in-kernel
 * vGIC's device attributes, so one table moves state between either.
 */
import { CheckpointError } from '@kvmts/core';
import { GIC_SPI_BASE } from './intid';

/** Which INTIDs a per-INTID row covers. */
export type GicIntidSpan =
  /** 0–31: SGIs and PPIs (the banked part on GICv2, the redistributor's on GICv3). */
  | 'private'
  /** 32 … N − 1: the SPIs. */
  | 'shared'
  /** 0 … N − 1. */
  | 'all';

/** How a saved row is written back. */
export type GicRestoreRule =
  /** Write the saved words as they are. */
  | { readonly kind: 'write' }
  /**
   * A write-1-to-set register with a write-1-to-clear partner at `clearOffset` (same layout):
   * all-ones to the clear register first, then the saved bits to the set register, so bits that
   * were 0 end up 0 whatever the state before.
   */
  | { readonly kind: 'clear-then-set'; readonly clearOffset: number }
  /** Read-only: saved for comparison (an identity register), never written. */
  | { readonly kind: 'read-only' };

export interface GicStateRegister {
  /** Architecture name without the index, e.g. 'GICD_ISENABLER', 'GICC_APR'. */
  readonly name: string;
  /** Which register frame the offset is in, e.g. 'distributor', 'cpu-interface', 'redistributor'. */
  readonly frame: string;
  /** Byte offset of the register (of the first one for a run or per-INTID array) in its frame. */
  readonly offset: number;
  /** Bytes per access: 4, or 8 for a 64-bit register (saved as two words, low first). */
  readonly width: 4 | 8;
  /** Per-INTID array: bits each INTID takes (1, 2, 8 or 64), and which INTIDs are saved. */
  readonly perIntid?: { readonly bits: 1 | 2 | 8 | 64; readonly intids: GicIntidSpan };
  /** A run of `count` consecutive registers that are not per-INTID (GICC_APR0–3: 4). Default 1. */
  readonly count?: number;
  /** One copy per CPU (saved per CPU, accessed as that CPU), or one for the whole GIC. */
  readonly banked: boolean;
  readonly restore: GicRestoreRule;
}

export type GicStateTable = readonly GicStateRegister[];

/** What the spans are derived from. */
export interface GicGeometry {
  /** CPU interfaces (vCPUs). */
  readonly cpus: number;
  /** INTIDs the GIC implements (32 × (ITLinesNumber + 1)). */
  readonly intids: number;
}

/** Where a row's words are: the first word's offset and how many words of `width` bytes. */
export interface GicRegisterSpan {
  readonly offset: number;
  readonly registers: number;
}

const SPAN_INTIDS: Readonly<Record<GicIntidSpan, (intids: number) => readonly [number, number]>> = {
  private: () => [0, GIC_SPI_BASE],
  shared: (n) => [GIC_SPI_BASE, n],
  all: (n) => [0, n],
};

/** The registers `row` covers on a GIC with `intids` INTIDs. */
export function registerSpan(row: GicStateRegister, intids: number): GicRegisterSpan {
  if (row.perIntid === undefined) return { offset: row.offset, registers: row.count ?? 1 };
  const [first, end] = SPAN_INTIDS[row.perIntid.intids](intids);
  const bitsPerRegister = row.width * 8;
  return {
    offset: row.offset + (first * row.perIntid.bits) / 8,
    // A partly implemented last register (1020 INTIDs: INTIDs 1020–1023 are special) still counts.
    registers: Math.max(0, Math.ceil(((end - first) * row.perIntid.bits) / bitsPerRegister)),
  };
}

/** 32-bit register access to one GIC, as one CPU (`cpu` is ignored for a global register). */
export interface GicRegisterAccess {
  read(frame: string, cpu: number, offset: number): number;
  write(frame: string, cpu: number, offset: number, value: number): void;
}

/** Saved words by row name: 32-bit values, a 64-bit register as low word then high word. */
export type GicRegisterWords = Record<string, number[]>;

/** A GIC part's state as a table saved it: plain data (JSON- and structured-clone-safe). */
export interface GicTableState {
  readonly cpus: number;
  readonly intids: number;
  /** Rows that are not banked. */
  readonly global: GicRegisterWords;
  /** Banked rows, one record per CPU. */
  readonly perCpu: GicRegisterWords[];
}

const WORDS_PER_REGISTER = { 4: 1, 8: 2 } as const;

function readRow(row: GicStateRegister, access: GicRegisterAccess, cpu: number, intids: number): number[] {
  const span = registerSpan(row, intids);
  const words: number[] = [];
  for (let r = 0; r < span.registers; r++) {
    for (let w = 0; w < WORDS_PER_REGISTER[row.width]; w++) words.push(access.read(row.frame, cpu, span.offset + r * row.width + 4 * w) >>> 0);
  }
  return words;
}

function writeRow(row: GicStateRegister, access: GicRegisterAccess, cpu: number, intids: number, words: readonly number[]): void {
  const span = registerSpan(row, intids);
  const rule = row.restore;
  if (rule.kind === 'read-only') return;
  for (let i = 0; i < words.length; i++) {
    const offset = span.offset + i * 4;
    if (rule.kind === 'clear-then-set') access.write(row.frame, cpu, offset - row.offset + rule.clearOffset, 0xffff_ffff);
    access.write(row.frame, cpu, offset, words[i]);
  }
}

/** Read every row of `table` through `access`. */
export function saveThroughTable(table: GicStateTable, access: GicRegisterAccess, geometry: GicGeometry): GicTableState {
  const global: GicRegisterWords = {};
  const perCpu: GicRegisterWords[] = Array.from({ length: geometry.cpus }, () => ({}));
  for (const row of table) {
    if (row.banked) for (let cpu = 0; cpu < geometry.cpus; cpu++) perCpu[cpu][row.name] = readRow(row, access, cpu, geometry.intids);
    else global[row.name] = readRow(row, access, 0, geometry.intids);
  }
  return { cpus: geometry.cpus, intids: geometry.intids, global, perCpu };
}

function savedWords(state: GicTableState, row: GicStateRegister, cpu: number | undefined, intids: number, where: string): number[] {
  const words = cpu === undefined ? state.global?.[row.name] : state.perCpu?.[cpu]?.[row.name];
  const expected = registerSpan(row, intids).registers * WORDS_PER_REGISTER[row.width];
  const at = cpu === undefined ? `${where}.global.${row.name}` : `${where}.perCpu[${cpu}].${row.name}`;
  if (!Array.isArray(words)) throw new CheckpointError(at, 'missing from the saved GIC state');
  if (words.length !== expected) throw new CheckpointError(at, `has ${words.length} words, a GIC with ${intids} INTIDs needs ${expected}`);
  for (const w of words) if (!Number.isInteger(w) || w < 0 || w > 0xffff_ffff) throw new CheckpointError(at, `holds ${String(w)}, not a 32-bit word`);
  return words;
}

/**
 * Write `state` back through `access` in table order. The state must come from a GIC of the same
 * geometry; every row is checked (present, right length, 32-bit words) before anything is written,
 * so a bad state leaves the GIC untouched (CheckpointError names the row; `where` prefixes it).
 */
export function restoreThroughTable(table: GicStateTable, access: GicRegisterAccess, geometry: GicGeometry, state: GicTableState, where = 'gic'): void {
  if (state.cpus !== geometry.cpus || state.intids !== geometry.intids) {
    throw new CheckpointError(where, `saved from a GIC with ${state.cpus} CPUs and ${state.intids} INTIDs, restoring into ${geometry.cpus} CPUs and ${geometry.intids} INTIDs`);
  }
  const plan: (() => void)[] = [];
  for (const row of table) {
    if (row.banked) {
      for (let cpu = 0; cpu < geometry.cpus; cpu++) {
        const words = savedWords(state, row, cpu, geometry.intids, where);
        plan.push(() => writeRow(row, access, cpu, geometry.intids, words));
      }
    } else {
      const words = savedWords(state, row, undefined, geometry.intids, where);
      plan.push(() => writeRow(row, access, 0, geometry.intids, words));
    }
  }
  for (const step of plan) step();
}
