/**
 * The GICv3 model's register map, built from the state tables kvmts already keeps for KVM's
 * vGICv3 (../kernel/v3-state-table.ts) — the offsets and bits per interrupt are read from those
 * rows, never written down twice. What the model adds is what each register *does*: which
 * per-interrupt field a per-INTID register reads and writes and how (a plain field, a
 * write-1-to-set or write-1-to-clear bit), and the few registers that are not state and so
 * are not in the tables (ICPENDR, the identification registers).
 */
import { ConfigError } from '@kvmts/core';
import { GICV3_DIST_REGISTERS, GICV3_REDIST_RD_REGISTERS, GICV3_REDIST_SGI_REGISTERS, type GicMmioRegister } from '../kernel/v3-state-table';

/** How a per-INTID register acts on an interrupt's state. */
export type PerIntidBehaviour =
  | { readonly kind: 'field'; readonly field: 'group' | 'grpmod' | 'priority' | 'config' | 'nsacr' | 'route' }
  /** Reads the bit; a guest write of 1 sets (or clears) it. Through KVM's attributes ISPENDR/ICPENDR differ: see frames.ts. */
  | { readonly kind: 'set' | 'clear'; readonly field: 'enabled' | 'pending' | 'active' };

/** A per-INTID register of a frame: where it is, how wide each interrupt's field is, what it does. */
export interface PerIntidRegister {
  readonly name: string;
  readonly offset: number;
  readonly bitsPerIntid: 1 | 2 | 8 | 64;
  readonly behaviour: PerIntidBehaviour;
}

/** GICD_ICPENDR / GICR_ICPENDR0: not state (through KVM: RAZ/WI), so in no state table. */
export const GICD_ICPENDR = 0x0280;

/** Non-state registers of both frames (Arm IHI 0069 12.9, 12.10). */
export const GicV3Id = {
  GICD_TYPER2: 0x000c,
  GICR_IIDR: 0x0004,
  /** GICD_PIDR2 / GICR_PIDR2: ArchRev in bits 7:4. */
  PIDR2: 0xffe8,
  /** ArchRev 3 (GICv3) in PIDR2 bits 7:4. */
  PIDR2_GICV3: 0x3b,
} as const;

/** The GICD_CTLR bits (single security state, as KVM's vGICv3). */
export const GicdCtlr = {
  ENABLE_GRP0: 1 << 0,
  ENABLE_GRP1: 1 << 1,
  /** Affinity routing: RAO/WI (always on). */
  ARE: 1 << 4,
  /** Disable Security: RAO/WI (one security state). */
  DS: 1 << 6,
} as const;

/** GICR_WAKER: ProcessorSleep (RW) and ChildrenAsleep (RO, follows ProcessorSleep). */
export const GicrWaker = { PROCESSOR_SLEEP: 1 << 1, CHILDREN_ASLEEP: 1 << 2 } as const;

/** Frame sizes: the distributor's 64 KiB, a redistributor's RD_base + SGI_base frames. */
export const GICD_FRAME_BYTES = 0x1_0000;
export const GICR_FRAME_BYTES = 0x2_0000;

/** Which per-interrupt field each state-table row holds, by row name (distributor and redistributor rows). */
const FIELD_OF_ROW: Readonly<Record<string, PerIntidBehaviour>> = {
  GICD_IGROUPR: { kind: 'field', field: 'group' },
  GICR_IGROUPR0: { kind: 'field', field: 'group' },
  GICD_IGRPMODR: { kind: 'field', field: 'grpmod' },
  GICR_IGRPMODR0: { kind: 'field', field: 'grpmod' },
  GICD_NSACR: { kind: 'field', field: 'nsacr' },
  GICR_NSACR: { kind: 'field', field: 'nsacr' },
  GICD_IROUTER: { kind: 'field', field: 'route' },
  GICD_ICFGR: { kind: 'field', field: 'config' },
  GICR_ICFGR: { kind: 'field', field: 'config' },
  GICD_IPRIORITYR: { kind: 'field', field: 'priority' },
  GICR_IPRIORITYR: { kind: 'field', field: 'priority' },
  GICD_ISPENDR: { kind: 'set', field: 'pending' },
  GICR_ISPENDR0: { kind: 'set', field: 'pending' },
  GICD_ISENABLER: { kind: 'set', field: 'enabled' },
  GICR_ISENABLER0: { kind: 'set', field: 'enabled' },
  GICD_ISACTIVER: { kind: 'set', field: 'active' },
  GICR_ISACTIVER0: { kind: 'set', field: 'active' },
};

function behaviourOf(row: GicMmioRegister): PerIntidBehaviour {
  const b = FIELD_OF_ROW[row.name];
  if (b === undefined) throw new ConfigError('gicv3 register map', `the state table's row ${row.name} has no behaviour in the model`);
  return b;
}

/**
 * The per-INTID registers of a table, each 'set-after-clear' row followed by its write-1-to-clear
 * twin, and the pending pair completed with ICPENDR. GICR_NSACR is a one-word row in the table
 * (2 bits for each of the 16 SGIs); the model treats it as the per-INTID register it is.
 */
function perIntidRegisters(rows: readonly GicMmioRegister[], clearPendingName: string): PerIntidRegister[] {
  const out: PerIntidRegister[] = [];
  for (const row of rows) {
    if (row.shape === 'double' || (row.shape === 'word' && row.name !== 'GICR_NSACR')) continue;
    const behaviour = behaviourOf(row);
    const bitsPerIntid = row.bitsPerIntid ?? 2;
    out.push({ name: row.name, offset: row.offset, bitsPerIntid, behaviour });
    if (behaviour.kind !== 'set') continue;
    const clearOffset = row.clearOffset ?? (behaviour.field === 'pending' ? GICD_ICPENDR : undefined);
    if (clearOffset === undefined) throw new ConfigError('gicv3 register map', `${row.name} has no write-1-to-clear twin`);
    const clearName = behaviour.field === 'pending' ? clearPendingName : row.name.replace('IS', 'IC');
    out.push({ name: clearName, offset: clearOffset, bitsPerIntid, behaviour: { kind: 'clear', field: behaviour.field } });
  }
  return out;
}

/** The distributor's per-INTID registers (offsets from the distributor base). */
export const GICD_PER_INTID: readonly PerIntidRegister[] = perIntidRegisters(GICV3_DIST_REGISTERS, 'GICD_ICPENDR');
/** The redistributor SGI_base frame's per-INTID registers (offsets from SGI_base). */
export const GICR_SGI_PER_INTID: readonly PerIntidRegister[] = perIntidRegisters(GICV3_REDIST_SGI_REGISTERS, 'GICR_ICPENDR0');

/** A word register's offset, by its name in the state tables. */
function wordOffset(rows: readonly GicMmioRegister[], name: string): number {
  const row = rows.find((r) => r.name === name);
  if (row === undefined) throw new ConfigError('gicv3 register map', `no ${name} in the state table`);
  return row.offset;
}

/** The distributor's word registers (from the state table). */
export const Gicd = {
  CTLR: wordOffset(GICV3_DIST_REGISTERS, 'GICD_CTLR'),
  TYPER: wordOffset(GICV3_DIST_REGISTERS, 'GICD_TYPER'),
  IIDR: wordOffset(GICV3_DIST_REGISTERS, 'GICD_IIDR'),
  STATUSR: wordOffset(GICV3_DIST_REGISTERS, 'GICD_STATUSR'),
  IROUTER: wordOffset(GICV3_DIST_REGISTERS, 'GICD_IROUTER'),
} as const;

/** The redistributor RD_base frame's registers (from the state table); 64-bit ones as their low word. */
export const Gicr = {
  CTLR: wordOffset(GICV3_REDIST_RD_REGISTERS, 'GICR_CTLR'),
  TYPER: wordOffset(GICV3_REDIST_RD_REGISTERS, 'GICR_TYPER'),
  STATUSR: wordOffset(GICV3_REDIST_RD_REGISTERS, 'GICR_STATUSR'),
  WAKER: wordOffset(GICV3_REDIST_RD_REGISTERS, 'GICR_WAKER'),
  PROPBASER: wordOffset(GICV3_REDIST_RD_REGISTERS, 'GICR_PROPBASER'),
  PENDBASER: wordOffset(GICV3_REDIST_RD_REGISTERS, 'GICR_PENDBASER'),
} as const;

/** The 64-bit registers of each frame (accessible as one 8-byte access or two 4-byte ones). */
export const GICR_DOUBLE_REGISTERS: readonly number[] = GICV3_REDIST_RD_REGISTERS.filter((r) => r.shape === 'double').map((r) => r.offset);

/** The per-INTID register `offset` falls in, for a frame of `intids` interrupts (INTIDs 0 … intids − 1), and the first INTID of the 32-bit word at `offset`. */
export function perIntidAt(table: readonly PerIntidRegister[], offset: number, intids: number): { reg: PerIntidRegister; firstIntid: number } | undefined {
  for (const reg of table) {
    const end = reg.offset + (intids * reg.bitsPerIntid) / 8;
    if (offset >= reg.offset && offset < end) return { reg, firstIntid: ((offset - reg.offset) * 8) / reg.bitsPerIntid };
  }
  return undefined;
}
