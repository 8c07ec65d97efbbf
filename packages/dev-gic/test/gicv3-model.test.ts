/**
 * The userspace GICv3 model against the architecture specification (Arm IHI 0069), register by
 * register, as a CPU's loads, stores and MRS/MSR see it: golden reset values, write-1-to-set/clear
 * pairs, priorities cut to the implemented bits, edge/level, IROUTER affinity routing, the
 * highest-priority pending interrupt, acknowledge, EOI (EOImode 0 and 1), priority mask, binary
 * point, running priority and SGIs through ICC_SGI1R_EL1 — and MMIO through the bus Devices.
 */
import { AddressBus, ConfigError } from '@kvmts/core';
import { KERNEL_GIC_LAYOUT } from '@kvmts/dev-gic';
import { GicV3Model, type GicV3OutputListener } from '@kvmts/dev-gic';

// Distributor offsets (IHI 0069 12.9), redistributor SGI_base offsets (12.10) at 0x10000 + offset.
const D = { CTLR: 0x0, TYPER: 0x4, IIDR: 0x8, STATUSR: 0x10, IGROUPR: 0x80, ISENABLER: 0x100, ICENABLER: 0x180, ISPENDR: 0x200, ICPENDR: 0x280, ISACTIVER: 0x300, ICACTIVER: 0x380, IPRIORITYR: 0x400, ICFGR: 0xc00, IGRPMODR: 0xd00, NSACR: 0xe00, IROUTER: 0x6000, PIDR2: 0xffe8 };
const SGI = 0x1_0000;
const R = { CTLR: 0x0, IIDR: 0x4, TYPER: 0x8, WAKER: 0x14, PROPBASER: 0x70 };

/** Two CPUs (MPIDR 0 and 1), 128 INTIDs, 5 priority bits (KVM's vGICv3), its output changes logged. */
function gic(mpidrs: bigint[] = [0n, 1n], priorityBits?: number) {
  const events: [number, string, boolean][] = [];
  const onOutput: GicV3OutputListener = (cpu, line, level) => events.push([cpu, line, level]);
  const model = new GicV3Model({ mpidrs, nrIrqs: 128, priorityBits, onOutput });
  return { model, events };
}

/** The usual guest set-up: Group 1 enabled in the distributor and both CPU interfaces, PMR open. */
function enabled(mpidrs?: bigint[]) {
  const g = gic(mpidrs);
  g.model.writeDistributor(D.CTLR, 0x2);
  for (let cpu = 0; cpu < g.model.cpus; cpu++) {
    g.model.writeSysReg(cpu, 'ICC_IGRPEN1_EL1', 1n);
    g.model.writeSysReg(cpu, 'ICC_PMR_EL1', 0xf0n);
  }
  return g;
}

/** An SPI as a guest configures it: Group 1, priority, edge or level, route, enabled. */
function spi(model: GicV3Model, intid: number, o: { priority: number; edge?: boolean; route?: bigint }) {
  const word = (base: number) => base + 4 * Math.floor(intid / 32);
  const bit = 2 ** (intid % 32);
  model.writeDistributor(word(D.IGROUPR), (model.readDistributor(word(D.IGROUPR)) | bit) >>> 0);
  const p = D.IPRIORITYR + (intid & ~3);
  const shift = 8 * (intid % 4);
  model.writeDistributor(p, ((model.readDistributor(p) & ~(0xff << shift)) | (o.priority << shift)) >>> 0);
  const cfg = D.ICFGR + 4 * Math.floor(intid / 16);
  const cbit = 2 << (2 * (intid % 16));
  model.writeDistributor(cfg, o.edge ? (model.readDistributor(cfg) | cbit) >>> 0 : model.readDistributor(cfg) & ~cbit);
  const route = o.route ?? 0n;
  model.writeDistributor(D.IROUTER + 8 * intid, Number(route & 0xffff_ffffn));
  model.writeDistributor(D.IROUTER + 8 * intid + 4, Number(route >> 32n));
  model.writeDistributor(word(D.ISENABLER), bit);
}

/** A PPI or SGI of `cpu` in Group 1 with `priority`, enabled. */
function private1(model: GicV3Model, cpu: number, intid: number, priority: number) {
  model.writeRedistributor(cpu, SGI + D.IGROUPR, (model.readRedistributor(cpu, SGI + D.IGROUPR) | (1 << intid)) >>> 0);
  const p = SGI + D.IPRIORITYR + (intid & ~3);
  const shift = 8 * (intid % 4);
  model.writeRedistributor(cpu, p, ((model.readRedistributor(cpu, p) & ~(0xff << shift)) | (priority << shift)) >>> 0);
  model.writeRedistributor(cpu, SGI + D.ISENABLER, (1 << intid) >>> 0);
}

describe('GICv3 distributor: reset values and identification', () => {
  it('reads the reset values of a 2-CPU, 128-INTID GIC with one security state', () => {
    const { model } = gic();
    expect(model.readDistributor(D.CTLR)).toBe(0x50); // ARE (bit 4) and DS (bit 6) RAO, groups disabled
    expect(model.readDistributor(D.TYPER)).toBe(0x0048_0003); // ITLinesNumber 3, IDbits 9 (10-bit INTIDs), no LPIs
    expect(model.readDistributor(D.IIDR)).toBe(0x4b00_343b); // KVM's: implementer Arm, product 0x4B, revision 3
    expect(model.readDistributor(D.PIDR2)).toBe(0x3b); // ArchRev 3
    for (const base of [D.IGROUPR, D.ISENABLER, D.ISPENDR, D.ISACTIVER]) expect(model.readDistributor(base + 4)).toBe(0);
    expect(model.readDistributor(D.ICFGR + 8)).toBe(0); // SPIs level-sensitive
    expect(model.readDistributor(D.IROUTER + 8 * 40)).toBe(0);
  });

  it("INTIDs 0–31 of the distributor are RAZ/WI (affinity routing: they are the redistributors')", () => {
    const { model } = gic();
    model.writeDistributor(D.ISENABLER, 0xffff_ffff);
    model.writeDistributor(D.IPRIORITYR, 0xffff_ffff);
    model.writeDistributor(D.IROUTER + 8 * 5, 1);
    expect(model.readDistributor(D.ISENABLER)).toBe(0);
    expect(model.readDistributor(D.IPRIORITYR)).toBe(0);
    expect(model.readDistributor(D.IROUTER + 8 * 5)).toBe(0);
    expect(model.readRedistributor(0, SGI + D.ISENABLER)).toBe(0);
  });

  it('GICD_CTLR: only EnableGrp0/EnableGrp1 are writable; TYPER and IIDR ignore guest writes; STATUSR is write-1-to-clear', () => {
    const { model } = gic();
    model.writeDistributor(D.CTLR, 0xffff_ffff);
    expect(model.readDistributor(D.CTLR)).toBe(0x53);
    model.writeDistributor(D.CTLR, 0);
    expect(model.readDistributor(D.CTLR)).toBe(0x50);
    model.writeDistributor(D.TYPER, 0);
    model.writeDistributor(D.IIDR, 0);
    expect(model.readDistributor(D.TYPER)).toBe(0x0048_0003);
    expect(model.readDistributor(D.IIDR)).toBe(0x4b00_343b);
    model.writeDistributor(D.STATUSR, 0xf, 'user');
    model.writeDistributor(D.STATUSR, 0x5);
    expect(model.readDistributor(D.STATUSR)).toBe(0xa);
  });
});

describe('GICv3 per-interrupt registers', () => {
  it('ISENABLER/ICENABLER, ISACTIVER/ICACTIVER: write-1-to-set and write-1-to-clear, both read the state', () => {
    const { model } = gic();
    model.writeDistributor(D.ISENABLER + 4, 0x0000_0f00);
    model.writeDistributor(D.ISENABLER + 4, 0x0000_00f0);
    expect(model.readDistributor(D.ISENABLER + 4)).toBe(0xff0);
    model.writeDistributor(D.ICENABLER + 4, 0x0000_0300);
    expect(model.readDistributor(D.ISENABLER + 4)).toBe(0xcf0);
    expect(model.readDistributor(D.ICENABLER + 4)).toBe(0xcf0);
    model.writeDistributor(D.ISACTIVER + 8, 0x8000_0001);
    model.writeDistributor(D.ICACTIVER + 8, 0x1);
    expect(model.readDistributor(D.ISACTIVER + 8)).toBe(0x8000_0000);
    expect(model.readDistributor(D.ICACTIVER + 8)).toBe(0x8000_0000);
  });

  it('IPRIORITYR keeps the implemented bits only (5 bits: 0xf8), by word and by byte', () => {
    const { model } = gic();
    model.writeDistributor(D.IPRIORITYR + 40, 0xffff_ffff);
    expect(model.readDistributor(D.IPRIORITYR + 40)).toBe(0xf8f8_f8f8);
    const d = model.distributorFor(0);
    const out = { high: 0 };
    d.write(D.IPRIORITYR + 41, 1, 0x47, 0);
    expect(d.read(D.IPRIORITYR + 41, 1, out)).toBe(0x40);
    expect(model.readDistributor(D.IPRIORITYR + 40)).toBe(0xf8f8_40f8);
    const seven = gic([0n], 7).model;
    seven.writeDistributor(D.IPRIORITYR + 32, 0xff);
    expect(seven.readDistributor(D.IPRIORITYR + 32)).toBe(0xfe);
  });

  it('ICFGR: bit 1 of each field selects edge; SGI fields read 0b10 and ignore writes; bit 0 is reserved', () => {
    const { model } = gic();
    expect(model.readRedistributor(0, SGI + D.ICFGR)).toBe(0xaaaa_aaaa);
    model.writeRedistributor(0, SGI + D.ICFGR, 0);
    expect(model.readRedistributor(0, SGI + D.ICFGR)).toBe(0xaaaa_aaaa);
    model.writeRedistributor(0, SGI + D.ICFGR + 4, 0xffff_ffff); // PPIs
    expect(model.readRedistributor(0, SGI + D.ICFGR + 4)).toBe(0xaaaa_aaaa);
    model.writeDistributor(D.ICFGR + 8, 0x0000_0003);
    expect(model.readDistributor(D.ICFGR + 8)).toBe(0x2);
  });

  it('IGRPMODR and IGROUPR are read/write; NSACR is RAZ/WI to a guest of a one-security-state GIC', () => {
    const { model } = gic();
    model.writeDistributor(D.IGROUPR + 4, 0x1234_5678);
    model.writeDistributor(D.IGRPMODR + 4, 0x8000_0001);
    model.writeDistributor(D.NSACR + 8, 0xffff_ffff);
    expect(model.readDistributor(D.IGROUPR + 4)).toBe(0x1234_5678);
    expect(model.readDistributor(D.IGRPMODR + 4)).toBe(0x8000_0001);
    expect(model.readDistributor(D.NSACR + 8)).toBe(0);
  });

  it('IROUTER: Aff3 (39:32), IRM (31) and Aff2.Aff1.Aff0 (23:0) are writable, the rest RES0; an 8-byte access moves both halves', () => {
    const { model } = gic();
    model.writeDistributor(D.IROUTER + 8 * 40, 0xffff_ffff);
    model.writeDistributor(D.IROUTER + 8 * 40 + 4, 0xffff_ffff);
    expect(model.readDistributor(D.IROUTER + 8 * 40)).toBe(0x80ff_ffff);
    expect(model.readDistributor(D.IROUTER + 8 * 40 + 4)).toBe(0xff);
    const d = model.distributorFor(1);
    const out = { high: 0 };
    d.write(D.IROUTER + 8 * 41, 8, 0x0001_0203, 0x04);
    expect(d.read(D.IROUTER + 8 * 41, 8, out)).toBe(0x0001_0203);
    expect(out.high).toBe(0x04);
  });

  it('ISPENDR/ICPENDR to a guest: set and clear the latch, read latch OR the line of a level interrupt', () => {
    const { model } = gic();
    model.writeDistributor(D.ISPENDR + 4, 1 << 8); // 40
    expect(model.readDistributor(D.ISPENDR + 4)).toBe(1 << 8);
    model.setSpi(41, true); // level (reset config): pending while high
    expect(model.readDistributor(D.ICPENDR + 4)).toBe(0x300);
    model.writeDistributor(D.ICPENDR + 4, 0x300); // clears 40's latch; 41's line stays high
    expect(model.readDistributor(D.ISPENDR + 4)).toBe(0x200);
    model.setSpi(41, false);
    expect(model.readDistributor(D.ISPENDR + 4)).toBe(0);
  });

  it('input lines: an edge interrupt pends on a rising edge only; a level one follows its line', () => {
    const { model } = gic();
    model.writeDistributor(D.ICFGR + 8, 2 << 16); // 40 edge
    model.setSpi(40, true);
    model.writeDistributor(D.ICPENDR + 4, 1 << 8);
    model.setSpi(40, true); // still high: no new edge
    expect(model.readDistributor(D.ISPENDR + 4) & (1 << 8)).toBe(0);
    model.setSpi(40, false);
    model.setSpi(40, true);
    expect(model.readDistributor(D.ISPENDR + 4) & (1 << 8)).toBe(1 << 8);
    model.setPpi(1, 27, true);
    expect(model.readRedistributor(1, SGI + D.ISPENDR)).toBe(1 << 27);
    expect(model.readRedistributor(0, SGI + D.ISPENDR)).toBe(0);
  });

  it('refuses lines it does not have with a ConfigError naming the INTID', () => {
    const { model } = gic();
    expect(() => model.setSpi(128, true)).toThrow(ConfigError);
    expect(() => model.setSpi(20, true)).toThrow(/SPIs are INTIDs 32–127, not 20/);
    expect(() => model.setPpi(0, 40, true)).toThrow(/PPIs are INTIDs 16–31/);
    expect(() => model.setPpi(2, 27, true)).toThrow(/CPUs 0–1, not 2/);
  });
});

describe('GICv3 redistributor RD_base frame', () => {
  it('GICR_TYPER names the CPU (affinity 63:32, processor number 23:8) and Last on the final one; IIDR and PIDR2 identify', () => {
    const { model } = gic([0n, 0x1_0000_0102n]);
    expect(model.readRedistributor(0, R.TYPER)).toBe(0);
    expect(model.readRedistributor(0, R.TYPER + 4)).toBe(0);
    expect(model.readRedistributor(1, R.TYPER)).toBe(0x110); // processor 1, Last
    expect(model.readRedistributor(1, R.TYPER + 4)).toBe(0x0100_0102); // Aff3 1, Aff1 1, Aff0 2
    expect(model.readRedistributor(0, R.IIDR)).toBe(0x4b00_043b);
    expect(model.readRedistributor(0, 0xffe8)).toBe(0x3b);
  });

  it('GICR_WAKER: ProcessorSleep is writable and ChildrenAsleep follows it; GICR_CTLR is RES0 without LPIs', () => {
    const { model } = gic();
    expect(model.readRedistributor(0, R.WAKER)).toBe(0x6);
    model.writeRedistributor(0, R.WAKER, 0);
    expect(model.readRedistributor(0, R.WAKER)).toBe(0);
    model.writeRedistributor(0, R.WAKER, 0x2);
    expect(model.readRedistributor(0, R.WAKER)).toBe(0x6);
    model.writeRedistributor(0, R.CTLR, 1);
    expect(model.readRedistributor(0, R.CTLR)).toBe(0);
  });

  it('the redistributors Device serves each CPU at 128 KiB strides, PROPBASER as one 8-byte access', () => {
    const { model } = gic();
    const r = model.redistributorsFor(0);
    const out = { high: 0 };
    r.write(0x2_0000 + R.PROPBASER, 8, 0x1000_0780, 0x1);
    expect(model.readRedistributor(1, R.PROPBASER)).toBe(0x1000_0780);
    expect(model.readRedistributor(1, R.PROPBASER + 4)).toBe(1);
    expect(r.read(0x2_0000 + R.TYPER, 4, out)).toBe(0x110);
    expect(r.read(0x2_0000 + R.WAKER, 2, out)).toBe(0); // not a served size: RAZ
    expect(r.read(0x4_0000, 4, out)).toBe(0); // past the last redistributor
  });
});

describe('GICv3 CPU interface: selection, acknowledge and completion', () => {
  it('ICC reset values: SRE 0x7, CTLR PRIbits 4 (5 bits) and A3V, BPR0 2 and BPR1 3 (their minimum), PMR 0, RPR 0xff', () => {
    const { model } = gic();
    expect(model.readSysReg(0, 'ICC_SRE_EL1')).toBe(0x7n);
    expect(model.readSysReg(0, 'ICC_CTLR_EL1')).toBe(0x8400n);
    expect(model.readSysReg(0, 'ICC_BPR0_EL1')).toBe(2n);
    expect(model.readSysReg(0, 'ICC_BPR1_EL1')).toBe(3n);
    expect(model.readSysReg(0, 'ICC_PMR_EL1')).toBe(0n);
    expect(model.readSysReg(0, 'ICC_RPR_EL1')).toBe(0xffn);
    expect(model.readSysReg(0, { op0: 3, op1: 0, crn: 12, crm: 12, op2: 0 })).toBe(1023n); // ICC_IAR1_EL1 by encoding
  });

  it('guest writes: SRE is RAO/WI, CTLR takes CBPR and EOImode only, PMR the implemented bits, BPRs are clamped to their minimum', () => {
    const { model } = gic();
    model.writeSysReg(0, 'ICC_SRE_EL1', 0n);
    model.writeSysReg(0, 'ICC_CTLR_EL1', 0xffffn);
    model.writeSysReg(0, 'ICC_PMR_EL1', 0xffn);
    model.writeSysReg(0, 'ICC_BPR1_EL1', 0n);
    model.writeSysReg(0, 'ICC_BPR0_EL1', 5n);
    expect(model.readSysReg(0, 'ICC_SRE_EL1')).toBe(0x7n);
    expect(model.readSysReg(0, 'ICC_CTLR_EL1')).toBe(0x8403n);
    expect(model.readSysReg(0, 'ICC_PMR_EL1')).toBe(0xf8n);
    expect(model.readSysReg(0, 'ICC_BPR1_EL1')).toBe(3n);
    expect(model.readSysReg(0, 'ICC_BPR0_EL1')).toBe(5n);
  });

  it('the highest-priority pending interrupt wins (ties: the lowest INTID); IAR1 acknowledges it, EOIR1 drops priority and deactivates', () => {
    const { model, events } = enabled();
    spi(model, 40, { priority: 0x80, edge: true });
    spi(model, 41, { priority: 0x40, edge: true });
    spi(model, 42, { priority: 0x40, edge: true });
    for (const i of [40, 41, 42]) model.setSpi(i, true);
    expect(events).toEqual([[0, 'irq', true]]);
    expect(model.readSysReg(0, 'ICC_HPPIR1_EL1')).toBe(41n);
    expect(model.acknowledge(0)).toBe(41);
    expect(model.readSysReg(0, 'ICC_RPR_EL1')).toBe(0x40n);
    expect(model.readSysReg(0, 'ICC_AP1R0_EL1')).toBe(1n << 8n); // priority 0x40 → bit 0x40 >> 3
    expect(model.readDistributor(D.ISACTIVER + 4)).toBe(1 << 9);
    expect(model.readDistributor(D.ISPENDR + 4)).toBe(0x500); // 40 and 42 still pending, 41's latch cleared
    expect(model.acknowledge(0)).toBe(1023); // 42 has the same group priority: it does not preempt
    expect(events).toEqual([[0, 'irq', true], [0, 'irq', false]]);
    model.endOfInterrupt(0, 41);
    expect(model.readSysReg(0, 'ICC_RPR_EL1')).toBe(0xffn);
    expect(model.readDistributor(D.ISACTIVER + 4)).toBe(0);
    expect(model.acknowledge(0)).toBe(42);
    expect(model.acknowledge(0)).toBe(1023); // 40 (0x80) does not preempt 0x40
    model.endOfInterrupt(0, 42);
    expect(model.acknowledge(0)).toBe(40);
  });

  it('a higher group priority preempts an active interrupt; the binary point decides what counts as higher', () => {
    const { model } = enabled();
    spi(model, 40, { priority: 0x80, edge: true });
    spi(model, 41, { priority: 0x70, edge: true });
    model.setSpi(40, true);
    expect(model.acknowledge(0)).toBe(40);
    model.setSpi(41, true);
    expect(model.acknowledge(0)).toBe(41); // BPR1 3: group priorities 0x70 < 0x80
    expect(model.readSysReg(0, 'ICC_AP1R0_EL1')).toBe((1n << 16n) | (1n << 14n));
    model.endOfInterrupt(0, 41); // drops the highest active priority (0x70)
    expect(model.readSysReg(0, 'ICC_RPR_EL1')).toBe(0x80n);
    model.endOfInterrupt(0, 40);

    const coarse = enabled().model;
    coarse.writeSysReg(0, 'ICC_BPR1_EL1', 7n); // group priority bits [7:7]: 0x80 and 0x70 differ, 0x60 and 0x40 do not
    spi(coarse, 40, { priority: 0x60, edge: true });
    spi(coarse, 41, { priority: 0x40, edge: true });
    coarse.setSpi(40, true);
    expect(coarse.acknowledge(0)).toBe(40);
    coarse.setSpi(41, true);
    expect(coarse.acknowledge(0)).toBe(1023);
    expect(coarse.readSysReg(0, 'ICC_RPR_EL1')).toBe(0n);
  });

  it('ICC_PMR_EL1 signals only priorities strictly below it; ICC_IGRPEN1_EL1 and GICD_CTLR.EnableGrp1 gate Group 1', () => {
    const { model } = enabled();
    spi(model, 40, { priority: 0x80, edge: true });
    model.setSpi(40, true);
    model.writeSysReg(0, 'ICC_PMR_EL1', 0x80n);
    expect(model.acknowledge(0)).toBe(1023);
    expect(model.output(0).irq).toBe(false);
    model.writeSysReg(0, 'ICC_PMR_EL1', 0x88n);
    expect(model.output(0).irq).toBe(true);
    model.writeSysReg(0, 'ICC_IGRPEN1_EL1', 0n);
    expect(model.acknowledge(0)).toBe(1023);
    model.writeSysReg(0, 'ICC_IGRPEN1_EL1', 1n);
    model.writeDistributor(D.CTLR, 0);
    expect(model.readSysReg(0, 'ICC_HPPIR1_EL1')).toBe(1023n);
    model.writeDistributor(D.CTLR, 2);
    expect(model.acknowledge(0)).toBe(40);
  });

  it('a Group 0 interrupt is for ICC_IAR0_EL1 and the FIQ output; ICC_IAR1_EL1 returns 1023 while it is the highest', () => {
    const { model } = enabled();
    model.writeDistributor(D.CTLR, 3);
    model.writeSysReg(0, 'ICC_IGRPEN0_EL1', 1n);
    spi(model, 40, { priority: 0x40, edge: true });
    model.writeDistributor(D.IGROUPR + 4, 0); // back to Group 0
    model.setSpi(40, true);
    expect(model.output(0)).toEqual({ irq: false, fiq: true });
    expect(model.readSysReg(0, 'ICC_HPPIR1_EL1')).toBe(1023n);
    expect(model.readSysReg(0, 'ICC_IAR1_EL1')).toBe(1023n);
    expect(model.readSysReg(0, 'ICC_IAR0_EL1')).toBe(40n);
    expect(model.readSysReg(0, 'ICC_AP0R0_EL1')).toBe(1n << 8n);
    model.writeSysReg(0, 'ICC_EOIR0_EL1', 40n);
    expect(model.readSysReg(0, 'ICC_AP0R0_EL1')).toBe(0n);
  });

  it('a level interrupt stays pending through acknowledge while its line is high, and is taken again after EOI', () => {
    const { model } = enabled();
    spi(model, 40, { priority: 0x40 });
    model.setSpi(40, true);
    expect(model.acknowledge(0)).toBe(40);
    expect(model.readDistributor(D.ISPENDR + 4)).toBe(1 << 8); // active and pending
    expect(model.readDistributor(D.ISACTIVER + 4)).toBe(1 << 8);
    model.endOfInterrupt(0, 40);
    expect(model.acknowledge(0)).toBe(40);
    model.endOfInterrupt(0, 40);
    model.setSpi(40, false);
    expect(model.acknowledge(0)).toBe(1023);
  });

  it('EOImode 1: EOIR1 only drops the priority, ICC_DIR_EL1 deactivates', () => {
    const { model } = enabled();
    model.writeSysReg(0, 'ICC_CTLR_EL1', 2n);
    spi(model, 40, { priority: 0x40, edge: true });
    model.setSpi(40, true);
    expect(model.acknowledge(0)).toBe(40);
    model.endOfInterrupt(0, 40);
    expect(model.readSysReg(0, 'ICC_RPR_EL1')).toBe(0xffn);
    expect(model.readDistributor(D.ISACTIVER + 4)).toBe(1 << 8);
    model.writeSysReg(0, 'ICC_DIR_EL1', 40n);
    expect(model.readDistributor(D.ISACTIVER + 4)).toBe(0);
  });

  it('IROUTER routes an SPI to the CPU of that affinity only; IRM offers it to every CPU, and the first to acknowledge takes it', () => {
    const { model } = enabled([0n, 0x100n]); // CPU 1 is Aff1 1
    spi(model, 40, { priority: 0x40, edge: true, route: 0x100n });
    model.setSpi(40, true);
    expect(model.readSysReg(0, 'ICC_HPPIR1_EL1')).toBe(1023n);
    expect(model.readSysReg(1, 'ICC_HPPIR1_EL1')).toBe(40n);
    spi(model, 41, { priority: 0x40, edge: true, route: 1n << 31n });
    model.setSpi(41, true);
    expect(model.readSysReg(0, 'ICC_HPPIR1_EL1')).toBe(41n);
    expect(model.acknowledge(0)).toBe(41);
    expect(model.acknowledge(1)).toBe(40); // 41 is active: not offered to CPU 1 any more
    expect(model.acknowledge(1)).toBe(1023);
    spi(model, 42, { priority: 0x40, edge: true, route: 0x200n }); // no such CPU
    model.setSpi(42, true);
    expect([model.readSysReg(0, 'ICC_HPPIR1_EL1'), model.readSysReg(1, 'ICC_HPPIR1_EL1')]).toEqual([1023n, 1023n]);
  });

  it('ICC_SGI1R_EL1: TargetList with Aff1/RS, and IRM (all but self), pend Group 1 SGIs on their targets', () => {
    const mpidrs = [0n, 1n, 0x100n, 0x111n];
    const { model } = enabled(mpidrs);
    for (let cpu = 0; cpu < 4; cpu++) private1(model, cpu, 5, 0x40);
    model.writeSysReg(0, 'ICC_SGI1R_EL1', (5n << 24n) | 0b11n); // Aff1 0, CPUs with Aff0 0 and 1
    expect([0, 1, 2, 3].map((c) => model.readRedistributor(c, SGI + D.ISPENDR))).toEqual([1 << 5, 1 << 5, 0, 0]);
    model.writeSysReg(0, 'ICC_SGI1R_EL1', (5n << 24n) | (1n << 16n) | (1n << 44n) | (1n << 1n)); // Aff1 1, RS 1, bit 1: Aff0 17 → CPU 3 only
    expect([0, 1, 2, 3].map((c) => model.readRedistributor(c, SGI + D.ISPENDR))).toEqual([1 << 5, 1 << 5, 0, 1 << 5]);
    model.writeSysReg(0, 'ICC_SGI1R_EL1', (5n << 24n) | (1n << 16n) | 1n); // Aff1 1, Aff0 0 → CPU 2
    expect(model.readRedistributor(2, SGI + D.ISPENDR)).toBe(1 << 5);
    model.writeRedistributor(3, SGI + D.ICPENDR, 1 << 5);
    model.writeSysReg(1, 'ICC_SGI1R_EL1', (5n << 24n) | (1n << 40n));
    expect(model.readRedistributor(3, SGI + D.ISPENDR)).toBe(1 << 5);
    expect(model.acknowledge(3)).toBe(5);
    // A Group 0 SGI is not raised by SGI1R.
    model.writeRedistributor(0, SGI + D.IGROUPR, 0);
    model.writeRedistributor(0, SGI + D.ICPENDR, 1 << 5);
    model.writeSysReg(1, 'ICC_SGI1R_EL1', (5n << 24n) | 1n);
    expect(model.readRedistributor(0, SGI + D.ISPENDR)).toBe(0);
  });

  it('refuses a non-ICC system register and a CPU it does not have', () => {
    const { model } = gic();
    expect(() => model.readSysReg(0, { op0: 3, op1: 0, crn: 1, crm: 0, op2: 0 })).toThrow(/not a GICv3 CPU interface register/);
    expect(() => model.readSysReg(2, 'ICC_PMR_EL1')).toThrow(ConfigError);
    expect(() => model.readSysReg(0, 'ICC_FOO_EL1')).toThrow(/not a state register/);
    expect(() => new GicV3Model({ mpidrs: [], nrIrqs: 128 })).toThrow(ConfigError);
    expect(() => new GicV3Model({ mpidrs: [0n], nrIrqs: 100 })).toThrow(/steps of 32/);
    expect(() => new GicV3Model({ mpidrs: [0n, 0n], nrIrqs: 128 })).toThrow(/same affinity/);
    expect(() => new GicV3Model({ mpidrs: [0n], nrIrqs: 128, priorityBits: 4 })).toThrow(/5–8 priority bits/);
  });
});

describe('GICv3 frames on a bus: a simulated CPU’s loads and stores', () => {
  it('the distributor and redistributors at the vGICv3 addresses serve the programme a guest runs, and the CPU interface delivers', () => {
    const { model } = gic();
    const bus = new AddressBus({ name: 'mmio', limit: 2 ** 32 });
    bus.attach({ base: KERNEL_GIC_LAYOUT.v3Distributor, size: 0x1_0000 }, model.distributorFor(0));
    bus.attach({ base: KERNEL_GIC_LAYOUT.v3Redistributors, size: 2 * 0x2_0000 }, model.redistributorsFor(0));
    const gicd = KERNEL_GIC_LAYOUT.v3Distributor;
    const gicr = KERNEL_GIC_LAYOUT.v3Redistributors;
    // What scripts/nested/guest-asm/arm64/gic-mux.s does, as stores:
    bus.write(gicd + D.CTLR, 4, 0x12, 0);
    bus.write(gicr + R.WAKER, 4, 0, 0);
    bus.write(gicd + D.IGROUPR + 4, 4, 0x3000, 0);
    bus.write(gicd + D.IPRIORITYR + 44, 1, 0x40, 0);
    bus.write(gicd + D.IPRIORITYR + 45, 1, 0x80, 0);
    bus.write(gicd + D.ICFGR + 8, 4, 0x0a00_0000, 0);
    bus.write(gicd + D.IROUTER + 8 * 44, 8, 0, 0);
    bus.write(gicd + D.ISENABLER + 4, 4, 0x3000, 0);
    expect(bus.read(gicd + D.CTLR, 4)).toBe(0x52);
    expect(bus.read(gicd + D.IPRIORITYR + 44, 4)).toBe(0x8040);
    expect(bus.read(gicr + R.WAKER, 4)).toBe(0);
    expect(bus.read(gicr + 0x2_0000 + R.WAKER, 4)).toBe(0x6); // CPU 1's still asleep
    model.writeSysReg(0, 'ICC_IGRPEN1_EL1', 1n);
    model.writeSysReg(0, 'ICC_PMR_EL1', 0xffn);
    model.setSpi(45, true);
    model.setSpi(44, true);
    expect(bus.read(gicd + D.ISPENDR + 4, 4)).toBe(0x3000);
    expect(model.acknowledge(0)).toBe(44);
    model.endOfInterrupt(0, 44);
    expect(model.acknowledge(0)).toBe(45);
  });
});
