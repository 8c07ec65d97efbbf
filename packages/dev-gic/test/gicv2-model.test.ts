import { ConfigError } from '@kvmts/core';
import { GicV2Model, gicV2ModelBytes, Gicc, Gicd, type GicOutputLine } from '@kvmts/dev-gic';

/** A 2-CPU, 96-INTID GIC with 5 priority bits (a GIC-400's), its output changes logged. */
function gic(options: { cpus?: number; irqs?: number; priorityBits?: number; storage?: Uint8Array } = {}) {
  const events: [number, GicOutputLine, boolean][] = [];
  const model = new GicV2Model({ cpus: options.cpus ?? 2, irqs: options.irqs ?? 96, priorityBits: options.priorityBits, storage: options.storage, onOutput: (cpu, line, level) => events.push([cpu, line, level]) });
  const d = {
    r: (offset: number, cpu = 0, size = 4) => model.readDistributor(cpu, offset, size),
    w: (offset: number, value: number, cpu = 0, size = 4) => model.writeDistributor(cpu, offset, size, value),
  };
  const c = {
    r: (offset: number, cpu = 0) => model.readCpuInterface(cpu, offset, 4),
    w: (offset: number, value: number, cpu = 0) => model.writeCpuInterface(cpu, offset, 4, value),
  };
  return { model, d, c, events };
}

/** Word offset of INTID `intid`'s bit in a 1-bit array at `base`, and the bit. */
const word1 = (base: number, intid: number): [number, number] => [base + 4 * Math.floor(intid / 32), 2 ** (intid % 32)];

/** Distributor and both CPU interfaces enabled (Group 0), PMR open: the usual guest set-up. */
function enabled(options: Parameters<typeof gic>[0] = {}) {
  const g = gic(options);
  g.d.w(Gicd.CTLR, 1);
  for (let cpu = 0; cpu < g.model.geometry.cpus; cpu++) {
    g.c.w(Gicc.CTLR, 1, cpu);
    g.c.w(Gicc.PMR, 0xf0, cpu);
  }
  return g;
}

/** An SPI configured by the guest: priority, target CPU mask, edge or level, enabled. */
function spi(g: ReturnType<typeof gic>, intid: number, o: { priority: number; targets?: number; edge?: boolean }) {
  g.d.w(Gicd.IPRIORITYR + intid, o.priority, 0, 1);
  g.d.w(Gicd.ITARGETSR + intid, o.targets ?? 1, 0, 1);
  const cfgWord = Gicd.ICFGR + 4 * Math.floor(intid / 16);
  const shift = 2 * (intid % 16) + 1;
  const cfg = g.d.r(cfgWord);
  g.d.w(cfgWord, o.edge ? (cfg | (1 << shift)) >>> 0 : cfg & ~(1 << shift));
  const [off, bit] = word1(Gicd.ISENABLER, intid);
  g.d.w(off, bit);
}

describe('GICv2 distributor: reset values and identification', () => {
  it('reads the reset values IHI 0048B gives (2 CPUs, 96 INTIDs)', () => {
    const { d } = gic();
    expect(d.r(Gicd.CTLR)).toBe(0);
    expect(d.r(Gicd.TYPER)).toBe(0x22); // ITLinesNumber 2 (96 INTIDs), CPUNumber 1 (2 CPUs), no Security Extensions
    expect(d.r(Gicd.IIDR)).toBe(0x0200143b);
    expect(d.r(0xfe8)).toBe(0x2b); // ICPIDR2: ArchRev 2
    expect(d.r(Gicd.ISENABLER)).toBe(0x0000ffff); // SGI enables are RAO/WI
    expect(d.r(Gicd.ISENABLER + 4)).toBe(0);
    expect(d.r(Gicd.ICFGR)).toBe(0xaaaaaaaa); // SGIs edge-triggered
    expect(d.r(Gicd.ICFGR + 4)).toBe(0); // PPIs level
    expect(d.r(Gicd.ICFGR + 8)).toBe(0);
    expect(d.r(Gicd.IPRIORITYR + 40)).toBe(0);
    expect(d.r(Gicd.IGROUPR)).toBe(0);
    expect(d.r(Gicd.ISPENDR)).toBe(0);
    expect(d.r(Gicd.ISACTIVER)).toBe(0);
  });

  it('derives GICD_TYPER from the geometry', () => {
    expect(gic({ cpus: 1, irqs: 64 }).d.r(Gicd.TYPER)).toBe(0x01);
    expect(gic({ cpus: 8, irqs: 1020 }).d.r(Gicd.TYPER)).toBe(0x1f | (7 << 5));
    expect(gic({ cpus: 4, irqs: 200 }).d.r(Gicd.TYPER)).toBe(6 | (3 << 5)); // 200 → 224 INTIDs
  });

  it('reads ITARGETSR0–7 as the reading CPU’s own bit and ignores writes to them', () => {
    const { d } = gic();
    expect(d.r(Gicd.ITARGETSR, 0)).toBe(0x01010101);
    expect(d.r(Gicd.ITARGETSR + 28, 1)).toBe(0x02020202);
    d.w(Gicd.ITARGETSR, 0x03030303, 1);
    expect(d.r(Gicd.ITARGETSR, 1)).toBe(0x02020202);
  });

  it('makes every ITARGETSR RAZ/WI on a single-CPU GIC', () => {
    const { d } = gic({ cpus: 1 });
    expect(d.r(Gicd.ITARGETSR)).toBe(0);
    d.w(Gicd.ITARGETSR + 32, 0x01010101);
    expect(d.r(Gicd.ITARGETSR + 32)).toBe(0);
  });

  it('refuses geometries a GICv2 cannot have', () => {
    expect(() => gic({ cpus: 0 })).toThrow(ConfigError);
    expect(() => gic({ cpus: 9 })).toThrow(/1–8 CPU interfaces/);
    expect(() => gic({ irqs: 32 })).toThrow(ConfigError);
    expect(() => gic({ priorityBits: 3 })).toThrow(/4–8 priority bits/);
    expect(() => gic({ storage: new Uint8Array(10) })).toThrow(/keeps \d+ bytes, got 10/);
  });
});

describe('GICv2 distributor: registers', () => {
  it('GICD_CTLR keeps EnableGrp0 and EnableGrp1 only', () => {
    const { d } = gic();
    d.w(Gicd.CTLR, 0xffffffff);
    expect(d.r(Gicd.CTLR)).toBe(3);
  });

  it('ISENABLER/ICENABLER set and clear the 1 bits and read the mask; SGI enables stay set', () => {
    const { d } = gic();
    d.w(Gicd.ISENABLER + 4, 0x5);
    d.w(Gicd.ISENABLER + 4, 0x2);
    expect(d.r(Gicd.ISENABLER + 4)).toBe(0x7);
    d.w(Gicd.ICENABLER + 4, 0x1);
    expect(d.r(Gicd.ICENABLER + 4)).toBe(0x6);
    d.w(Gicd.ICENABLER, 0xffffffff); // Linux's PPIs-off write also names the SGIs
    d.w(Gicd.ISENABLER, 0x80000000);
    expect(d.r(Gicd.ISENABLER)).toBe(0x8000ffff);
  });

  it('banks the INTID 0–31 words per CPU', () => {
    const { d } = gic();
    d.w(Gicd.ISENABLER, 0x00010000, 1);
    d.w(Gicd.IPRIORITYR + 16, 0xa0, 1, 1);
    d.w(Gicd.IGROUPR, 0x1, 0);
    expect([d.r(Gicd.ISENABLER, 0), d.r(Gicd.ISENABLER, 1)]).toEqual([0x0000ffff, 0x0001ffff]);
    expect([d.r(Gicd.IPRIORITYR + 16, 0), d.r(Gicd.IPRIORITYR + 16, 1)]).toEqual([0, 0xa0]);
    expect([d.r(Gicd.IGROUPR, 0), d.r(Gicd.IGROUPR, 1)]).toEqual([1, 0]);
  });

  it('IPRIORITYR is byte-accessible and keeps only the implemented priority bits', () => {
    const { d } = gic();
    d.w(Gicd.IPRIORITYR + 40, 0x12345678);
    expect(d.r(Gicd.IPRIORITYR + 40)).toBe(0x10305078); // each byte & 0xF8
    d.w(Gicd.IPRIORITYR + 41, 0xff, 0, 1);
    expect(d.r(Gicd.IPRIORITYR + 41, 0, 1)).toBe(0xf8);
    expect(d.r(Gicd.IPRIORITYR + 40)).toBe(0x1030f878);
    expect(gic({ priorityBits: 8 }).model.readDistributor(0, Gicd.IPRIORITYR + 32, 4)).toBe(0);
    const g8 = gic({ priorityBits: 8 });
    g8.d.w(Gicd.IPRIORITYR + 32, 0xffffffff);
    expect(g8.d.r(Gicd.IPRIORITYR + 32)).toBe(0xffffffff);
  });

  it('ITARGETSR of an SPI keeps the bits of CPUs that exist', () => {
    const { d } = gic();
    d.w(Gicd.ITARGETSR + 40, 0xff, 0, 1);
    expect(d.r(Gicd.ITARGETSR + 40)).toBe(0x03);
  });

  it('ICFGR: SGIs read-only edge, Int_config[0] reserved, SPIs and PPIs programmable', () => {
    const { d } = gic();
    d.w(Gicd.ICFGR, 0);
    expect(d.r(Gicd.ICFGR)).toBe(0xaaaaaaaa);
    d.w(Gicd.ICFGR + 8, 0xffffffff);
    expect(d.r(Gicd.ICFGR + 8)).toBe(0xaaaaaaaa);
    d.w(Gicd.ICFGR + 4, 0x80000000, 1);
    expect([d.r(Gicd.ICFGR + 4, 0), d.r(Gicd.ICFGR + 4, 1)]).toEqual([0, 0x80000000]);
  });

  it('is RAZ/WI for other widths, misaligned words, byte access to word-only registers, absent INTIDs and reserved space', () => {
    const { d } = gic();
    d.w(Gicd.ISENABLER + 4, 0xffff, 0, 2);
    d.w(Gicd.ISENABLER + 5, 0xff, 0, 1);
    d.w(Gicd.ISENABLER + 6, 0xffffffff);
    expect(d.r(Gicd.ISENABLER + 4)).toBe(0);
    d.w(Gicd.ISENABLER + 4, 0xffffffff);
    expect(d.r(Gicd.ISENABLER + 4, 0, 2)).toBe(0);
    expect(d.r(Gicd.ISENABLER + 4, 0, 1)).toBe(0);
    expect(d.r(Gicd.ISENABLER + 4, 0, 8)).toBe(0);
    d.w(Gicd.ISENABLER + 12, 0xffffffff); // INTIDs 96–127: not implemented
    expect(d.r(Gicd.ISENABLER + 12)).toBe(0);
    d.w(Gicd.IPRIORITYR + 100, 0xa0, 0, 1);
    expect(d.r(Gicd.IPRIORITYR + 100, 0, 1)).toBe(0);
    d.w(Gicd.TYPER, 0);
    expect(d.r(Gicd.TYPER)).toBe(0x22);
    expect(d.r(0x040)).toBe(0);
    expect(d.r(Gicd.SGIR)).toBe(0);
    expect(d.r(0x2000)).toBe(0);
  });
});

describe('GICv2 CPU interface: reset values and registers', () => {
  it('reads the reset values', () => {
    const { c } = gic();
    expect(c.r(Gicc.CTLR)).toBe(0);
    expect(c.r(Gicc.PMR)).toBe(0);
    expect(c.r(Gicc.BPR)).toBe(2); // the minimum with 5 priority bits
    expect(c.r(Gicc.ABPR)).toBe(3);
    expect(c.r(Gicc.RPR)).toBe(0xff);
    expect(c.r(Gicc.IAR)).toBe(1023);
    expect(c.r(Gicc.HPPIR)).toBe(1023);
    expect(c.r(Gicc.IIDR)).toBe(0x0202143b);
    expect(c.r(Gicc.IIDR) & 0xff0fff).toBe(0x02043b); // what Linux's gic_check_gicv2 wants
  });

  it('PMR keeps the implemented bits; BPR and ABPR do not go below their minimum', () => {
    const { c } = gic();
    c.w(Gicc.PMR, 0xff);
    expect(c.r(Gicc.PMR)).toBe(0xf8);
    c.w(Gicc.BPR, 0);
    expect(c.r(Gicc.BPR)).toBe(2);
    c.w(Gicc.BPR, 5);
    expect(c.r(Gicc.BPR)).toBe(5);
    c.w(Gicc.ABPR, 0);
    expect(c.r(Gicc.ABPR)).toBe(3);
    const g8 = gic({ priorityBits: 8 });
    g8.c.w(Gicc.BPR, 0);
    expect(g8.c.r(Gicc.BPR)).toBe(0);
    expect(g8.c.r(Gicc.ABPR)).toBe(1);
  });

  it('GICC_CTLR keeps the group, AckCtl, FIQEn, CBPR and EOImode bits; bypass bits are RAZ/WI', () => {
    const { c } = gic();
    c.w(Gicc.CTLR, 0xffffffff);
    expect(c.r(Gicc.CTLR)).toBe(0x61f);
  });

  it('APR0 is read/write; APR1–3 hold no levels with 5 priority bits (RAZ/WI); NSAPRs are RAZ/WI', () => {
    const { c } = gic();
    c.w(Gicc.APR, 0x80000001);
    c.w(Gicc.APR + 4, 0xffffffff);
    c.w(Gicc.NSAPR, 0xffffffff);
    expect([c.r(Gicc.APR), c.r(Gicc.APR + 4), c.r(Gicc.NSAPR)]).toEqual([0x80000001, 0, 0]);
    expect(c.r(Gicc.RPR)).toBe(0x00); // level 0 active
    const g8 = gic({ priorityBits: 8 });
    g8.c.w(Gicc.APR + 12, 0x80000000);
    expect(g8.c.r(Gicc.APR + 12)).toBe(0x80000000);
    expect(g8.c.r(Gicc.RPR)).toBe(0xfe); // level 127 of 128 (group priority bits 7:1)
  });

  it('takes 32-bit accesses only', () => {
    const { model, c } = gic();
    model.writeCpuInterface(0, Gicc.PMR, 1, 0xf0);
    model.writeCpuInterface(0, Gicc.PMR + 1, 4, 0xf0);
    expect(c.r(Gicc.PMR)).toBe(0);
    c.w(Gicc.PMR, 0xf0);
    expect(model.readCpuInterface(0, Gicc.PMR, 2)).toBe(0);
    expect(model.readCpuInterface(0, 0x3000, 4)).toBe(0);
  });
});

describe('GICv2: acknowledge and end of interrupt', () => {
  it('an edge SPI: output, HPPIR, IAR makes it active and not pending, EOIR drops priority and deactivates', () => {
    const g = enabled();
    spi(g, 40, { priority: 0xa0, edge: true });
    g.model.setLevel(40, true);
    expect(g.events).toEqual([[0, 'irq', true]]);
    expect(g.c.r(Gicc.HPPIR)).toBe(40);
    expect(g.c.r(Gicc.HPPIR, 1)).toBe(1023); // targeted at CPU 0 only
    expect(g.c.r(Gicc.IAR)).toBe(40);
    expect(g.events).toEqual([[0, 'irq', true], [0, 'irq', false]]);
    expect(g.c.r(Gicc.RPR)).toBe(0xa0);
    expect(g.d.r(Gicd.ISACTIVER + 4)).toBe(1 << 8);
    expect(g.d.r(Gicd.ISPENDR + 4)).toBe(0);
    expect(g.c.r(Gicc.APR)).toBe(1 << (0xa0 >> 3));
    expect(g.c.r(Gicc.IAR)).toBe(1023); // nothing else pending
    g.c.w(Gicc.EOIR, 40);
    expect(g.c.r(Gicc.RPR)).toBe(0xff);
    expect(g.d.r(Gicd.ISACTIVER + 4)).toBe(0);
    expect(g.c.r(Gicc.APR)).toBe(0);
  });

  it('an edge interrupt latches on the rising edge only, and stays pending after its line drops', () => {
    const g = enabled();
    spi(g, 40, { priority: 0xa0, edge: true });
    g.model.setLevel(40, true);
    expect(g.c.r(Gicc.IAR)).toBe(40);
    g.model.setLevel(40, true); // no edge
    g.c.w(Gicc.EOIR, 40);
    expect(g.c.r(Gicc.HPPIR)).toBe(1023);
    g.model.setLevel(40, false);
    g.model.setLevel(40, true);
    g.model.setLevel(40, false);
    expect(g.c.r(Gicc.IAR)).toBe(40);
  });

  it('a level interrupt whose line is still high is pending again after EOI, and not after its line drops', () => {
    const g = enabled();
    spi(g, 40, { priority: 0xa0 });
    g.model.setLevel(40, true);
    expect(g.c.r(Gicc.IAR)).toBe(40);
    expect(g.d.r(Gicd.ISPENDR + 4)).toBe(1 << 8); // active and pending: the line is high
    expect(g.model.outputLevel(0, 'irq')).toBe(false); // but not signalled while active
    g.c.w(Gicc.EOIR, 40);
    expect(g.model.outputLevel(0, 'irq')).toBe(true);
    expect(g.c.r(Gicc.IAR)).toBe(40);
    g.model.setLevel(40, false);
    expect(g.d.r(Gicd.ISPENDR + 4)).toBe(0);
    g.c.w(Gicc.EOIR, 40);
    expect(g.model.outputLevel(0, 'irq')).toBe(false);
    expect(g.c.r(Gicc.IAR)).toBe(1023);
  });

  it('ISPENDR pends and ICPENDR clears the latch; a level interrupt with its line high stays pending', () => {
    const g = enabled();
    spi(g, 41, { priority: 0xa0 });
    g.d.w(Gicd.ISPENDR + 4, 1 << 9);
    expect(g.model.outputLevel(0, 'irq')).toBe(true);
    g.d.w(Gicd.ICPENDR + 4, 1 << 9);
    expect(g.model.outputLevel(0, 'irq')).toBe(false);
    g.model.setLevel(41, true);
    g.d.w(Gicd.ICPENDR + 4, 1 << 9);
    expect(g.d.r(Gicd.ISPENDR + 4)).toBe(1 << 9);
    expect(g.c.r(Gicc.IAR)).toBe(41);
  });

  it('ICACTIVER deactivates without a priority drop', () => {
    const g = enabled();
    spi(g, 40, { priority: 0xa0, edge: true });
    g.d.w(Gicd.ISPENDR + 4, 1 << 8);
    expect(g.c.r(Gicc.IAR)).toBe(40);
    g.d.w(Gicd.ICACTIVER + 4, 1 << 8);
    expect(g.d.r(Gicd.ISACTIVER + 4)).toBe(0);
    expect(g.c.r(Gicc.RPR)).toBe(0xa0);
  });

  it('ignores an EOIR of the spurious INTID', () => {
    const g = enabled();
    spi(g, 40, { priority: 0xa0, edge: true });
    g.d.w(Gicd.ISPENDR + 4, 1 << 8);
    expect(g.c.r(Gicc.IAR)).toBe(40);
    g.c.w(Gicc.EOIR, 1023);
    expect(g.c.r(Gicc.RPR)).toBe(0xa0);
    expect(g.d.r(Gicd.ISACTIVER + 4)).toBe(1 << 8);
  });

  it('with GICC_CTLR.EOImode, EOIR only drops priority and GICC_DIR deactivates', () => {
    const g = enabled();
    g.c.w(Gicc.CTLR, 1 | (1 << 9));
    spi(g, 40, { priority: 0xa0, edge: true });
    g.d.w(Gicd.ISPENDR + 4, 1 << 8);
    expect(g.c.r(Gicc.IAR)).toBe(40);
    g.c.w(Gicc.EOIR, 40);
    expect(g.c.r(Gicc.RPR)).toBe(0xff);
    expect(g.d.r(Gicd.ISACTIVER + 4)).toBe(1 << 8);
    g.d.w(Gicd.ISPENDR + 4, 1 << 8);
    expect(g.c.r(Gicc.IAR)).toBe(1023); // active and pending: waits for the deactivation
    g.c.w(Gicc.DIR, 40);
    expect(g.d.r(Gicd.ISACTIVER + 4)).toBe(0);
    expect(g.c.r(Gicc.IAR)).toBe(40);
  });

  it('GICC_DIR without EOImode is ignored', () => {
    const g = enabled();
    spi(g, 40, { priority: 0xa0, edge: true });
    g.d.w(Gicd.ISPENDR + 4, 1 << 8);
    g.c.r(Gicc.IAR);
    g.c.w(Gicc.DIR, 40);
    expect(g.d.r(Gicd.ISACTIVER + 4)).toBe(1 << 8);
  });
});

describe('GICv2: priority, masking and preemption', () => {
  it('signals only priorities numerically lower than PMR', () => {
    const g = enabled();
    spi(g, 40, { priority: 0xa0, edge: true });
    g.c.w(Gicc.PMR, 0xa0);
    g.d.w(Gicd.ISPENDR + 4, 1 << 8);
    expect(g.model.outputLevel(0, 'irq')).toBe(false);
    expect(g.c.r(Gicc.IAR)).toBe(1023);
    expect(g.c.r(Gicc.HPPIR)).toBe(1023);
    g.c.w(Gicc.PMR, 0xa8);
    expect(g.model.outputLevel(0, 'irq')).toBe(true);
    expect(g.c.r(Gicc.IAR)).toBe(40);
  });

  it('gives the highest priority first, ties to the lowest INTID', () => {
    const g = enabled();
    spi(g, 40, { priority: 0xa0, edge: true });
    spi(g, 41, { priority: 0x80, edge: true });
    spi(g, 42, { priority: 0x80, edge: true });
    g.d.w(Gicd.ISPENDR + 4, 0b111 << 8);
    expect(g.c.r(Gicc.HPPIR)).toBe(41);
    expect([g.c.r(Gicc.IAR)]).toEqual([41]);
  });

  it('a higher-priority interrupt preempts an active one; EOIs drop back level by level', () => {
    const g = enabled();
    spi(g, 40, { priority: 0xa0, edge: true });
    spi(g, 41, { priority: 0x80, edge: true });
    g.d.w(Gicd.ISPENDR + 4, 1 << 8);
    expect(g.c.r(Gicc.IAR)).toBe(40);
    g.d.w(Gicd.ISPENDR + 4, 1 << 9);
    expect(g.model.outputLevel(0, 'irq')).toBe(true);
    expect(g.c.r(Gicc.IAR)).toBe(41);
    expect(g.c.r(Gicc.RPR)).toBe(0x80);
    expect(g.c.r(Gicc.APR)).toBe((1 << 20) | (1 << 16)); // levels 0xA0>>3 and 0x80>>3
    g.c.w(Gicc.EOIR, 41);
    expect(g.c.r(Gicc.RPR)).toBe(0xa0);
    g.c.w(Gicc.EOIR, 40);
    expect(g.c.r(Gicc.RPR)).toBe(0xff);
  });

  it('an equal or lower priority does not preempt', () => {
    const g = enabled();
    spi(g, 40, { priority: 0xa0, edge: true });
    spi(g, 41, { priority: 0xa0, edge: true });
    g.d.w(Gicd.ISPENDR + 4, 1 << 8);
    g.c.r(Gicc.IAR);
    g.d.w(Gicd.ISPENDR + 4, 1 << 9);
    expect(g.model.outputLevel(0, 'irq')).toBe(false);
    expect(g.c.r(Gicc.IAR)).toBe(1023);
    expect(g.c.r(Gicc.HPPIR)).toBe(41); // HPPIR ignores the running priority
  });

  it('preemption compares group priorities: the binary point decides', () => {
    // BPR 4: group priority = bits 7:5. 0xB0 runs at group priority 0xA0; 0xA8 has the same group priority.
    const g = enabled();
    g.c.w(Gicc.BPR, 4);
    spi(g, 40, { priority: 0xb0, edge: true });
    spi(g, 41, { priority: 0xa8, edge: true });
    g.d.w(Gicd.ISPENDR + 4, 1 << 8);
    expect(g.c.r(Gicc.IAR)).toBe(40);
    expect(g.c.r(Gicc.RPR)).toBe(0xa0);
    g.d.w(Gicd.ISPENDR + 4, 1 << 9);
    expect(g.c.r(Gicc.IAR)).toBe(1023);
    // With the minimum binary point the same pair preempts.
    const h = enabled();
    spi(h, 40, { priority: 0xb0, edge: true });
    spi(h, 41, { priority: 0xa8, edge: true });
    h.d.w(Gicd.ISPENDR + 4, 1 << 8);
    expect(h.c.r(Gicc.IAR)).toBe(40);
    expect(h.c.r(Gicc.RPR)).toBe(0xb0);
    h.d.w(Gicd.ISPENDR + 4, 1 << 9);
    expect(h.c.r(Gicc.IAR)).toBe(41);
  });

  it('signals nothing while the distributor or the CPU interface is disabled', () => {
    const g = enabled();
    spi(g, 40, { priority: 0xa0, edge: true });
    g.d.w(Gicd.CTLR, 0);
    g.d.w(Gicd.ISPENDR + 4, 1 << 8);
    expect(g.model.outputLevel(0, 'irq')).toBe(false);
    expect(g.c.r(Gicc.IAR)).toBe(1023);
    g.d.w(Gicd.CTLR, 1);
    expect(g.model.outputLevel(0, 'irq')).toBe(true);
    g.c.w(Gicc.CTLR, 0);
    expect(g.model.outputLevel(0, 'irq')).toBe(false);
    expect(g.d.r(Gicd.ISPENDR + 4)).toBe(1 << 8); // still pending
  });

  it('does not signal a disabled interrupt', () => {
    const g = enabled();
    spi(g, 40, { priority: 0xa0, edge: true });
    g.d.w(Gicd.ICENABLER + 4, 1 << 8);
    g.d.w(Gicd.ISPENDR + 4, 1 << 8);
    expect(g.model.outputLevel(0, 'irq')).toBe(false);
    g.d.w(Gicd.ISENABLER + 4, 1 << 8);
    expect(g.model.outputLevel(0, 'irq')).toBe(true);
  });
});

describe('GICv2: targets and PPIs', () => {
  it('an SPI goes to the CPUs in its ITARGETSR; the first to acknowledge takes it', () => {
    const g = enabled();
    spi(g, 50, { priority: 0xa0, targets: 0b10, edge: true });
    g.model.setLevel(50, true);
    expect([g.model.outputLevel(0, 'irq'), g.model.outputLevel(1, 'irq')]).toEqual([false, true]);
    g.d.w(Gicd.ITARGETSR + 50, 0b11, 0, 1);
    expect(g.model.outputLevel(0, 'irq')).toBe(true);
    expect(g.c.r(Gicc.IAR, 0)).toBe(50);
    expect([g.model.outputLevel(0, 'irq'), g.model.outputLevel(1, 'irq')]).toEqual([false, false]);
    expect(g.c.r(Gicc.IAR, 1)).toBe(1023);
  });

  it('a PPI line belongs to one CPU', () => {
    const g = enabled();
    g.d.w(Gicd.ISENABLER, 1 << 27, 1);
    g.d.w(Gicd.IPRIORITYR + 27, 0xa0, 1, 1);
    g.model.setLevel(27, true, 1);
    expect([g.model.outputLevel(0, 'irq'), g.model.outputLevel(1, 'irq')]).toEqual([false, true]);
    expect(g.d.r(Gicd.ISPENDR, 0)).toBe(0);
    expect(g.d.r(Gicd.ISPENDR, 1)).toBe(1 << 27);
    expect(g.c.r(Gicc.IAR, 1)).toBe(27);
  });

  it('refuses input lines the GIC does not have', () => {
    const { model } = gic();
    expect(() => model.setLevel(3, true)).toThrow(/INTIDs 16–95/);
    expect(() => model.setLevel(96, true)).toThrow(ConfigError);
    expect(() => model.setLevel(27, true)).toThrow(/banked per CPU/);
    expect(() => model.setLevel(40, true, 0)).toThrow(/shared/);
    expect(() => model.setLevel(27, true, 2)).toThrow(/CPU interfaces 0–1/);
    expect(() => model.readDistributor(5, 0, 4)).toThrow(ConfigError);
  });
});

describe('GICv2: SGIs', () => {
  it('GICD_SGIR with a target list pends the SGI on the listed CPUs with the sender as source', () => {
    const g = enabled();
    g.d.w(Gicd.SGIR, (0b10 << 16) | 3, 0);
    expect(g.d.r(Gicd.SPENDSGIR, 1)).toBe(0x01 << 24); // SGI 3 from CPU 0
    expect(g.d.r(Gicd.SPENDSGIR, 0)).toBe(0);
    expect(g.d.r(Gicd.ISPENDR, 1)).toBe(1 << 3);
    expect(g.events).toEqual([[1, 'irq', true]]);
    expect(g.c.r(Gicc.IAR, 1)).toBe(3);
    g.c.w(Gicc.EOIR, 3, 1);
    expect(g.d.r(Gicd.ISACTIVER, 1)).toBe(0);
  });

  it('filter 1 targets every other CPU, filter 2 the sender; IAR carries the source CPU in bits 12:10', () => {
    const g = enabled();
    g.d.w(Gicd.SGIR, (1 << 24) | 5, 1);
    expect(g.d.r(Gicd.SPENDSGIR + 4, 0)).toBe(0x02 << 8); // SGI 5 from CPU 1
    expect(g.d.r(Gicd.SPENDSGIR + 4, 1)).toBe(0);
    expect(g.c.r(Gicc.IAR, 0)).toBe(5 | (1 << 10));
    g.d.w(Gicd.SGIR, (2 << 24) | (0xff << 16) | 7, 1);
    expect(g.c.r(Gicc.HPPIR, 1)).toBe(7 | (1 << 10));
    expect(g.d.r(Gicd.SPENDSGIR + 4, 0)).toBe(0);
  });

  it('filter 3 is reserved: the write does nothing', () => {
    const g = enabled();
    g.d.w(Gicd.SGIR, (3 << 24) | (0xff << 16) | 1, 0);
    expect([g.d.r(Gicd.ISPENDR, 0), g.d.r(Gicd.ISPENDR, 1)]).toEqual([0, 0]);
  });

  it('keeps an SGI pending per source: one acknowledge per sender, lowest CPU first', () => {
    const g = enabled();
    g.d.w(Gicd.SGIR, (0b10 << 16) | 2, 0);
    g.d.w(Gicd.SGIR, (2 << 24) | 2, 1);
    expect(g.d.r(Gicd.SPENDSGIR, 1)).toBe(0x03 << 16);
    expect(g.c.r(Gicc.IAR, 1)).toBe(2);
    g.c.w(Gicc.EOIR, 2, 1);
    expect(g.c.r(Gicc.IAR, 1)).toBe(2 | (1 << 10));
    g.c.w(Gicc.EOIR, 2 | (1 << 10), 1);
    expect(g.c.r(Gicc.IAR, 1)).toBe(1023);
  });

  it('SPENDSGIR/CPENDSGIR set and clear sources (byte-accessible); ISPENDR/ICPENDR ignore SGI bits', () => {
    const g = enabled();
    g.d.w(Gicd.SPENDSGIR + 1, 0x03, 0, 1);
    expect(g.d.r(Gicd.SPENDSGIR, 0)).toBe(0x0300);
    g.d.w(Gicd.CPENDSGIR, 0x0100);
    expect(g.d.r(Gicd.CPENDSGIR + 1, 0, 1)).toBe(0x02);
    g.d.w(Gicd.ICPENDR, 0xffff);
    expect(g.d.r(Gicd.ISPENDR, 0)).toBe(1 << 1);
    g.d.w(Gicd.ISPENDR, 1 << 4);
    expect(g.d.r(Gicd.ISPENDR, 0)).toBe(1 << 1);
    g.d.w(Gicd.SPENDSGIR + 8, 0xffffffff, 0);
    expect(g.d.r(Gicd.SPENDSGIR + 8, 0)).toBe(0x03030303); // only CPUs 0 and 1 exist
  });
});

describe('GICv2: groups, FIQ and the aliased registers', () => {
  function grouped() {
    const g = enabled();
    g.d.w(Gicd.CTLR, 3);
    spi(g, 40, { priority: 0xa0, edge: true });
    spi(g, 41, { priority: 0x80, edge: true });
    g.d.w(Gicd.IGROUPR + 4, 1 << 9); // 41 is Group 1
    return g;
  }

  it('Group 0 goes to FIQ with FIQEn, Group 1 to IRQ', () => {
    const g = grouped();
    g.c.w(Gicc.CTLR, 0b1011); // EnableGrp0, EnableGrp1, FIQEn
    g.d.w(Gicd.ISPENDR + 4, 1 << 8);
    expect([g.model.outputLevel(0, 'fiq'), g.model.outputLevel(0, 'irq')]).toEqual([true, false]);
    g.d.w(Gicd.ICPENDR + 4, 1 << 8);
    g.d.w(Gicd.ISPENDR + 4, 1 << 9);
    expect([g.model.outputLevel(0, 'fiq'), g.model.outputLevel(0, 'irq')]).toEqual([false, true]);
  });

  it('IAR reads 1022 for a Group 1 interrupt unless AckCtl; AIAR/AEOIR/AHPPIR handle Group 1', () => {
    const g = grouped();
    g.c.w(Gicc.CTLR, 0b0011);
    g.d.w(Gicd.ISPENDR + 4, 1 << 9);
    expect(g.c.r(Gicc.HPPIR)).toBe(1022);
    expect(g.c.r(Gicc.IAR)).toBe(1022);
    expect(g.c.r(Gicc.AHPPIR)).toBe(41);
    expect(g.c.r(Gicc.AIAR)).toBe(41);
    g.c.w(Gicc.AEOIR, 41);
    expect(g.d.r(Gicd.ISACTIVER + 4)).toBe(0);
    g.c.w(Gicc.CTLR, 0b0111); // AckCtl
    g.d.w(Gicd.ISPENDR + 4, 1 << 9);
    expect(g.c.r(Gicc.IAR)).toBe(41);
  });

  it('AIAR does not acknowledge a Group 0 interrupt', () => {
    const g = grouped();
    g.c.w(Gicc.CTLR, 0b0011);
    g.d.w(Gicd.ISPENDR + 4, 1 << 8);
    expect(g.c.r(Gicc.AIAR)).toBe(1023);
    expect(g.c.r(Gicc.IAR)).toBe(40);
  });

  it('a group disabled in the distributor or the CPU interface is not signalled', () => {
    const g = grouped();
    g.c.w(Gicc.CTLR, 0b0001); // Group 1 off on the CPU interface
    g.d.w(Gicd.ISPENDR + 4, 1 << 9);
    expect(g.model.outputLevel(0, 'irq')).toBe(false);
    g.c.w(Gicc.CTLR, 0b0011);
    expect(g.model.outputLevel(0, 'irq')).toBe(true);
    g.d.w(Gicd.CTLR, 1);
    expect(g.model.outputLevel(0, 'irq')).toBe(false);
  });

  it('Group 1 preemption uses ABPR (as BPR − 1), or BPR with CBPR', () => {
    // ABPR 5 → group priority bits 7:5: an active 0xB0 (group 0xA0) is not preempted by Group 1 0xA8.
    const g = enabled();
    g.d.w(Gicd.CTLR, 3);
    g.c.w(Gicc.CTLR, 0b0111);
    g.c.w(Gicc.ABPR, 5);
    spi(g, 40, { priority: 0xb0, edge: true });
    spi(g, 41, { priority: 0xa8, edge: true });
    g.d.w(Gicd.IGROUPR + 4, 0b11 << 8);
    g.d.w(Gicd.ISPENDR + 4, 1 << 8);
    expect(g.c.r(Gicc.IAR)).toBe(40);
    expect(g.c.r(Gicc.RPR)).toBe(0xa0);
    g.d.w(Gicd.ISPENDR + 4, 1 << 9);
    expect(g.c.r(Gicc.IAR)).toBe(1023);
    g.c.w(Gicc.EOIR, 40);
    g.c.w(Gicc.EOIR, 40);
    // CBPR: Group 1 takes BPR (2): 0xA8 preempts 0xB0.
    g.c.w(Gicc.CTLR, 0b10111);
    g.d.w(Gicd.ICPENDR + 4, 0b11 << 8);
    g.d.w(Gicd.ICACTIVER + 4, 0b11 << 8);
    g.d.w(Gicd.ISPENDR + 4, 1 << 8);
    expect(g.c.r(Gicc.IAR)).toBe(40);
    expect(g.c.r(Gicc.RPR)).toBe(0xb0);
    g.d.w(Gicd.ISPENDR + 4, 1 << 9);
    expect(g.c.r(Gicc.IAR)).toBe(41);
  });
});

describe('GICv2: shared state and reset', () => {
  it('two models over the same bytes are one GIC, and an output change is reported once', () => {
    const bytes = new Uint8Array(gicV2ModelBytes({ cpus: 2, irqs: 96 }));
    const a = enabled({ storage: bytes });
    const b = gic({ storage: bytes });
    expect(b.c.r(Gicc.PMR, 1)).toBe(0xf0); // b joined a's state rather than resetting it
    spi(a, 40, { priority: 0xa0, edge: true });
    b.model.setLevel(40, true);
    expect(b.events).toEqual([[0, 'irq', true]]);
    expect(a.events).toEqual([]);
    expect(a.c.r(Gicc.IAR)).toBe(40);
    expect(a.events).toEqual([[0, 'irq', false]]);
  });

  it('reset() returns every register to its reset value and lowers the outputs', () => {
    const g = enabled();
    spi(g, 40, { priority: 0xa0, edge: true });
    g.model.setLevel(40, true);
    g.c.w(Gicc.BPR, 6);
    g.model.reset();
    expect(g.events.at(-1)).toEqual([0, 'irq', false]);
    expect([g.d.r(Gicd.CTLR), g.d.r(Gicd.ISENABLER + 4), g.d.r(Gicd.IPRIORITYR + 40), g.c.r(Gicc.PMR), g.c.r(Gicc.BPR), g.c.r(Gicc.CTLR)]).toEqual([0, 0, 0, 0, 2, 0]);
    expect(g.d.r(Gicd.ISENABLER)).toBe(0xffff);
  });
});
