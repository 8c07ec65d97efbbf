/**
 * The GICv2 register map (ARM IHI 0048B §4.1.2 distributor, §4.1.3 CPU interface), as named
 * offsets and the identification values this model reports (those of a GIC-400, the PL390's
 * GICv2 successor Linux and QEMU's virt board expect).
 */

/** Distributor frame: 4 KiB. */
export const GICD_FRAME_BYTES = 0x1000;
/** CPU interface frame: 8 KiB (GICC_DIR is in the second page). */
export const GICC_FRAME_BYTES = 0x2000;

export const Gicd = {
  CTLR: 0x000,
  TYPER: 0x004,
  IIDR: 0x008,
  IGROUPR: 0x080,
  ISENABLER: 0x100,
  ICENABLER: 0x180,
  ISPENDR: 0x200,
  ICPENDR: 0x280,
  ISACTIVER: 0x300,
  ICACTIVER: 0x380,
  IPRIORITYR: 0x400,
  ITARGETSR: 0x800,
  ICFGR: 0xc00,
  SGIR: 0xf00,
  CPENDSGIR: 0xf10,
  SPENDSGIR: 0xf20,
} as const;

export const Gicc = {
  CTLR: 0x00,
  PMR: 0x04,
  BPR: 0x08,
  IAR: 0x0c,
  EOIR: 0x10,
  RPR: 0x14,
  HPPIR: 0x18,
  ABPR: 0x1c,
  AIAR: 0x20,
  AEOIR: 0x24,
  AHPPIR: 0x28,
  APR: 0xd0,
  NSAPR: 0xe0,
  IIDR: 0xfc,
  DIR: 0x1000,
} as const;

/** GICD_CTLR (no Security Extensions): the distributor forwards Group 0 / Group 1 interrupts. */
export const GicdCtlr = { ENABLE_GRP0: 1 << 0, ENABLE_GRP1: 1 << 1 } as const;

/**
 * GICC_CTLR as a GICv2 without Security Extensions has it (the Secure copy's layout). The bypass
 * bits 5–8 are RAZ/WI: a vCPU has no legacy interrupt inputs to bypass to.
 */
export const GiccCtlr = {
  ENABLE_GRP0: 1 << 0,
  ENABLE_GRP1: 1 << 1,
  /** GICC_IAR/HPPIR may acknowledge / report a Group 1 interrupt (else they read 1022 for one). */
  ACK_CTL: 1 << 2,
  /** Group 0 interrupts are signalled on FIQ rather than IRQ. */
  FIQ_EN: 1 << 3,
  /** Group 1 preemption uses GICC_BPR instead of GICC_ABPR. */
  CBPR: 1 << 4,
  /** GICC_EOIR only drops priority; GICC_DIR deactivates. */
  EOI_MODE: 1 << 9,
  /** The same for the aliased GICC_AEOIR. */
  EOI_MODE_NS: 1 << 10,
} as const;
export const GICC_CTLR_WRITABLE = 0x61f;

/** GICD_SGIR fields. */
export const GicdSgir = { FILTER_SHIFT: 24, TARGETS_SHIFT: 16, INTID_MASK: 0xf } as const;
/** GICD_SGIR.TargetListFilter values. */
export const SgiFilter = { LIST: 0, ALL_BUT_SELF: 1, SELF: 2 } as const;

/** GIC-400 identification: implementer 0x43B (Arm), product 0x02, revision 1. */
export const GICD_IIDR_VALUE = 0x0200_143b;
/**
 * GICC_IIDR of a GIC-400: product 0x020, architecture 2, revision 1, implementer Arm. Linux's
 * gic_check_gicv2 tests (IIDR & 0xFF0FFF) == 0x02043B to treat it as a GICv2.
 */
export const GICC_IIDR_VALUE = 0x0202_143b;

/**
 * Distributor identification registers (CoreSight/PrimeCell component and peripheral IDs) of a
 * GIC-400; ICPIDR2's ArchRev field (bits 7:4) is 2 for GICv2. Read-only, word offsets → value.
 */
export const GICD_ID_REGISTERS: ReadonlyMap<number, number> = new Map([
  [0xfd0, 0x04], // PIDR4
  [0xfe0, 0x90], // PIDR0
  [0xfe4, 0xb4], // PIDR1
  [0xfe8, 0x2b], // PIDR2 (ICPIDR2): ArchRev 2
  [0xfec, 0x00], // PIDR3
  [0xff0, 0x0d], // CIDR0
  [0xff4, 0xf0], // CIDR1
  [0xff8, 0x05], // CIDR2
  [0xffc, 0xb1], // CIDR3
]);

