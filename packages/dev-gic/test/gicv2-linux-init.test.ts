import { GicV2Model, Gicc, Gicd, type GicOutputLine } from '@kvmts/dev-gic';

/**
 * What Linux's irq-gic driver does to a GICv2 at boot (gic_dist_init, gic_cpu_init,
 * gic_cpu_if_up) and then for an IPI and a timer-style level PPI, replayed against the model on
 * two CPUs: each step's golden value is what the driver relies on.
 */
describe('GICv2 under Linux’s irq-gic initialisation', () => {
  const events: [number, GicOutputLine, boolean][] = [];
  const gic = new GicV2Model({ cpus: 2, irqs: 128, onOutput: (cpu, line, level) => events.push([cpu, line, level]) });
  const rd = (cpu: number, offset: number) => gic.readDistributor(cpu, offset, 4);
  const wr = (cpu: number, offset: number, value: number) => gic.writeDistributor(cpu, offset, 4, value);
  const crd = (cpu: number, offset: number) => gic.readCpuInterface(cpu, offset, 4);
  const cwr = (cpu: number, offset: number, value: number) => gic.writeCpuInterface(cpu, offset, 4, value);

  /** gic_get_cpumask: OR of ITARGETSR0–7, folded to one byte. */
  const cpumask = (cpu: number): number => {
    let mask = 0;
    for (let i = 0; i < 32; i += 4) mask |= rd(cpu, Gicd.ITARGETSR + i);
    mask |= mask >>> 16;
    mask |= mask >>> 8;
    return mask & 0xff;
  };

  it('gic_dist_init: learns its CPU mask, routes SPIs to it, configures and enables the distributor', () => {
    wr(0, Gicd.CTLR, 0);
    const mask = cpumask(0);
    expect(mask).toBe(0x01); // not 0: "GIC CPU mask not found - kernel will fail to boot."
    const lines = ((rd(0, Gicd.TYPER) & 0x1f) + 1) * 32;
    expect(lines).toBe(128);
    for (let i = 32; i < lines; i += 4) wr(0, Gicd.ITARGETSR + i, mask * 0x01010101);
    for (let i = 32; i < lines; i += 16) wr(0, Gicd.ICFGR + i / 4, 0); // all SPIs level, active high
    for (let i = 32; i < lines; i += 4) wr(0, Gicd.IPRIORITYR + i, 0xa0a0a0a0);
    for (let i = 32; i < lines; i += 32) {
      wr(0, Gicd.ICACTIVER + i / 8, 0xffffffff);
      wr(0, Gicd.ICENABLER + i / 8, 0xffffffff);
    }
    wr(0, Gicd.CTLR, 1);
    expect([rd(0, Gicd.CTLR), rd(0, Gicd.ITARGETSR + 64), rd(0, Gicd.IPRIORITYR + 124), rd(0, Gicd.ISENABLER + 4)]).toEqual([1, 0x01010101, 0xa0a0a0a0, 0]);
  });

  it('gic_cpu_init on each CPU: banked SGI/PPI set-up, GICv2 detected through GICC_IIDR, APRs cleared, PMR 0xF0', () => {
    for (const cpu of [0, 1]) {
      expect(cpumask(cpu)).toBe(1 << cpu);
      wr(cpu, Gicd.ICACTIVER, 0xffffffff);
      wr(cpu, Gicd.ICENABLER, 0xffff0000);
      wr(cpu, Gicd.ISENABLER, 0x0000ffff);
      for (let i = 0; i < 32; i += 4) wr(cpu, Gicd.IPRIORITYR + i, 0xa0a0a0a0);
      expect(crd(cpu, Gicc.IIDR) & 0xff0fff).toBe(0x02043b); // gic_check_gicv2
      for (let i = 0; i < 4; i++) cwr(cpu, Gicc.APR + 4 * i, 0);
      cwr(cpu, Gicc.PMR, 0xf0);
      cwr(cpu, Gicc.CTLR, 1);
      expect([rd(cpu, Gicd.ISENABLER), crd(cpu, Gicc.CTLR), crd(cpu, Gicc.PMR), crd(cpu, Gicc.RPR)]).toEqual([0x0000ffff, 1, 0xf0, 0xff]);
    }
    expect(events).toEqual([]);
  });

  it('an IPI (gic_ipi_send_mask → GICD_SGIR) from CPU 0 to CPU 1', () => {
    wr(0, Gicd.SGIR, (0x02 << 16) | 1);
    expect(events).toEqual([[1, 'irq', true]]);
    const iar = crd(1, Gicc.IAR);
    expect(iar).toBe(1); // SGI 1, source CPU 0
    expect(events.at(-1)).toEqual([1, 'irq', false]);
    cwr(1, Gicc.EOIR, iar);
    expect(rd(1, Gicd.ISACTIVER)).toBe(0);
  });

  it('a level PPI (the virtual timer, INTID 27) configured from the devicetree and held high until the handler quiets it', () => {
    const cpu = 1;
    wr(cpu, Gicd.ICFGR + 4, rd(cpu, Gicd.ICFGR + 4) & ~(2 << ((27 % 16) * 2))); // level
    wr(cpu, Gicd.ISENABLER, 1 << 27);
    gic.setLevel(27, true, cpu);
    expect(events.at(-1)).toEqual([1, 'irq', true]);
    expect(crd(cpu, Gicc.IAR)).toBe(27);
    gic.setLevel(27, false, cpu); // the handler reprograms the timer: the line drops
    cwr(cpu, Gicc.EOIR, 27);
    expect(crd(cpu, Gicc.HPPIR)).toBe(1023);
    expect(gic.outputLevel(0, 'irq') || gic.outputLevel(1, 'irq')).toBe(false);
  });
});
