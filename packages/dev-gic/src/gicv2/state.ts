/**
 * The GICv2's state as register tables (state-table.ts): the distributor and CPU-interface rows
 * in restore order, the state access the userspace model offers them, and GicV2State — the whole
 * model as one plain value.
 *
 * Restore order follows the rule QEMU and the vGIC documentation give: identification first
 * (KVM ignores GICD_IGROUPR writes until GICD_IIDR was written), configuration (groups, edge or
 * level, priorities, targets) before anything pending, line levels before pending latches, then
 * SGI sources, active and enable bits, then the CPU interfaces.
 *
 * Two rows are not guest registers: 'line-level' and 'pending-latch' frames, laid out like
 * GICD_ISPENDR. A level interrupt's pending state is its latch OR its line: saving GICD_ISPENDR
 * and writing it back would latch a level interrupt whose line is merely high, and it would stay
 * pending after the line drops. (GICv3's vGIC splits the two the same way: ISPENDR as the latch,
 * LEVEL_INFO for lines.)
 */
import { CheckpointError } from '@kvmts/core';
import { GIC_PPI_BASE } from '../intid';
import { registerSpan, restoreThroughTable, saveThroughTable, type GicRegisterAccess, type GicStateRegister, type GicStateTable, type GicTableState } from '../state-table';
import type { GicV2Model } from './model';
import { Gicc, Gicd } from './registers';

export const GicV2Frame = {
  DISTRIBUTOR: 'distributor',
  CPU_INTERFACE: 'cpu-interface',
  LINE_LEVEL: 'line-level',
  PENDING_LATCH: 'pending-latch',
} as const;

const WRITE = { kind: 'write' } as const;
const clearThenSet = (clearOffset: number) => ({ kind: 'clear-then-set', clearOffset }) as const;

/** A per-INTID distributor array as two rows: INTIDs 0–31 banked per CPU, the SPIs shared. */
function intidArray(name: string, frame: string, offset: number, bits: 1 | 2 | 8, restore: GicStateRegister['restore'], parts: 'both' | 'shared' = 'both'): GicStateRegister[] {
  const shared: GicStateRegister = { name, frame, offset, width: 4, perIntid: { bits, intids: 'shared' }, banked: false, restore };
  if (parts === 'shared') return [shared];
  return [{ name, frame, offset, width: 4, perIntid: { bits, intids: 'private' }, banked: true, restore }, shared];
}

const single = (name: string, frame: string, offset: number, banked: boolean, restore: GicStateRegister['restore'] = WRITE, count?: number): GicStateRegister => ({
  name,
  frame,
  offset,
  width: 4,
  banked,
  restore,
  ...(count !== undefined ? { count } : {}),
});

const D = GicV2Frame.DISTRIBUTOR;
const C = GicV2Frame.CPU_INTERFACE;

/**
 * GICv2 state, in restore order. A banked row's saved words sit in `perCpu[cpu]`, the same name's
 * shared part in `global` (e.g. GICD_ISENABLER word 0 per CPU, words 1… once).
 */
export const GICV2_STATE_TABLE: GicStateTable = [
  single('GICD_IIDR', D, Gicd.IIDR, false),
  single('GICD_TYPER', D, Gicd.TYPER, false, { kind: 'read-only' }),
  single('GICD_CTLR', D, Gicd.CTLR, false),
  ...intidArray('GICD_IGROUPR', D, Gicd.IGROUPR, 1, WRITE),
  ...intidArray('GICD_ICFGR', D, Gicd.ICFGR, 2, WRITE),
  ...intidArray('GICD_IPRIORITYR', D, Gicd.IPRIORITYR, 8, WRITE),
  // Bytes 0–31 are read-only (each CPU's own bit): only the SPIs' targets are state.
  ...intidArray('GICD_ITARGETSR', D, Gicd.ITARGETSR, 8, WRITE, 'shared'),
  ...intidArray('LINE_LEVEL', GicV2Frame.LINE_LEVEL, 0, 1, WRITE),
  ...intidArray('PENDING_LATCH', GicV2Frame.PENDING_LATCH, 0, 1, WRITE),
  // Pending SGIs by source: 16 bytes per CPU, byte n = SGI n's source CPUs.
  single('GICD_SPENDSGIR', D, Gicd.SPENDSGIR, true, clearThenSet(Gicd.CPENDSGIR), 4),
  ...intidArray('GICD_ISACTIVER', D, Gicd.ISACTIVER, 1, clearThenSet(Gicd.ICACTIVER)),
  ...intidArray('GICD_ISENABLER', D, Gicd.ISENABLER, 1, clearThenSet(Gicd.ICENABLER)),
  single('GICC_CTLR', C, Gicc.CTLR, true),
  single('GICC_PMR', C, Gicc.PMR, true),
  single('GICC_BPR', C, Gicc.BPR, true),
  single('GICC_ABPR', C, Gicc.ABPR, true),
  // Active priorities (the running priority and its history), in the fixed GICv2 format.
  single('GICC_APR', C, Gicc.APR, true, WRITE, 4),
];

/** The whole userspace GICv2 as one plain value (JSON- and structured-clone-safe). */
export interface GicV2State {
  readonly kind: 'gicv2';
  readonly priorityBits: number;
  readonly registers: GicTableState;
}

/**
 * Register access to `model` for state transfer: the guest's view of the distributor and CPU
 * interface (as `cpu`, 32-bit), plus the line-level and pending-latch bitmaps. Registers with
 * side effects on read (GICC_IAR) are not in the table and read 0 here.
 */
export function gicV2StateAccess(model: GicV2Model): GicRegisterAccess {
  const irqs = model.interrupts;
  const bitmap = (get: (cpu: number, intid: number) => boolean) => (cpu: number, offset: number) => {
    let word = 0;
    for (let k = 0; k < 32; k++) {
      const intid = offset * 8 + k;
      if (intid < irqs.intids && get(cpu, intid)) word |= 1 << k;
    }
    return word >>> 0;
  };
  const setBitmap = (set: (cpu: number, intid: number, on: boolean) => void) => (cpu: number, offset: number, value: number) => {
    for (let k = 0; k < 32; k++) {
      const intid = offset * 8 + k;
      // SGIs have neither a line nor a latch (their pending state is per source).
      if (intid >= GIC_PPI_BASE && intid < irqs.intids) set(cpu, intid, ((value >>> k) & 1) !== 0);
    }
  };
  const frames: Record<string, { read(cpu: number, offset: number): number; write(cpu: number, offset: number, value: number): void }> = {
    [GicV2Frame.DISTRIBUTOR]: {
      read: (cpu, offset) => model.readDistributor(cpu, offset, 4),
      write: (cpu, offset, value) => model.distributorRegisters.write(cpu, offset, 4, value >>> 0),
    },
    [GicV2Frame.CPU_INTERFACE]: {
      read: (cpu, offset) => (offset === Gicc.IAR || offset === Gicc.AIAR ? 0 : model.cpuInterfaces.read(cpu, offset)),
      write: (cpu, offset, value) => model.cpuInterfaces.write(cpu, offset, value >>> 0),
    },
    [GicV2Frame.LINE_LEVEL]: {
      read: bitmap((cpu, intid) => irqs.line(cpu, intid)),
      write: setBitmap((cpu, intid, on) => irqs.restoreLine(cpu, intid, on)),
    },
    [GicV2Frame.PENDING_LATCH]: {
      read: bitmap((cpu, intid) => irqs.pendingLatch(cpu, intid)),
      write: setBitmap((cpu, intid, on) => irqs.setPendingLatch(cpu, intid, on)),
    },
  };
  const frame = (name: string) => {
    const f = frames[name];
    if (f === undefined) throw new CheckpointError('gicv2', `no register frame '${name}' in a GICv2 (frames: ${Object.keys(frames).join(', ')})`);
    return f;
  };
  return {
    read: (name, cpu, offset) => frame(name).read(cpu, offset),
    write: (name, cpu, offset, value) => frame(name).write(cpu, offset, value),
  };
}

/** Save the whole model. */
export function saveGicV2State(model: GicV2Model): GicV2State {
  return { kind: 'gicv2', priorityBits: model.geometry.priorityBits, registers: saveThroughTable(GICV2_STATE_TABLE, gicV2StateAccess(model), model.geometry) };
}

/**
 * Load `state` into `model` (a GIC of the same geometry), then report output changes. A state
 * that does not fit (another geometry, a missing or malformed row) is a CheckpointError and
 * leaves the model as it was.
 */
export function restoreGicV2State(model: GicV2Model, state: GicV2State, where = 'gicv2'): void {
  if (typeof state !== 'object' || state === null || state.kind !== 'gicv2') throw new CheckpointError(where, 'is not a saved GICv2 state');
  if (state.priorityBits !== model.geometry.priorityBits) {
    throw new CheckpointError(`${where}.priorityBits`, `saved from a GIC with ${state.priorityBits} priority bits, restoring into one with ${model.geometry.priorityBits}`);
  }
  restoreThroughTable(GICV2_STATE_TABLE, gicV2StateAccess(model), model.geometry, state.registers, `${where}.registers`);
  model.updateOutputs();
}

/** Words each row takes for a geometry (for documentation and tests). */
export function gicV2StateWords(intids: number): Record<string, { banked: number; shared: number }> {
  const out: Record<string, { banked: number; shared: number }> = {};
  for (const row of GICV2_STATE_TABLE) {
    const entry = (out[row.name] ??= { banked: 0, shared: 0 });
    entry[row.banked ? 'banked' : 'shared'] += registerSpan(row, intids).registers;
  }
  return out;
}
