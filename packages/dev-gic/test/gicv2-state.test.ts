import { CheckpointError } from '@kvmts/core';
import {
  GICV2_STATE_TABLE,
  GicV2Model,
  Gicc,
  Gicd,
  gicV2StateWords,
  registerSpan,
  restoreGicV2State,
  saveGicV2State,
  type GicOutputLine,
  type GicStateRegister,
  type GicV2State,
} from '@kvmts/dev-gic';

function model(onOutput?: (cpu: number, line: GicOutputLine, level: boolean) => void, irqs = 96) {
  return new GicV2Model({ cpus: 2, irqs, onOutput });
}

/** A GIC in the middle of things: every kind of state set to something other than its reset value. */
function busy(): GicV2Model {
  const m = model();
  const d = (cpu: number, offset: number, value: number, size = 4) => m.writeDistributor(cpu, offset, size, value);
  const c = (cpu: number, offset: number, value: number) => m.writeCpuInterface(cpu, offset, 4, value);
  d(0, Gicd.CTLR, 3);
  for (const cpu of [0, 1]) {
    c(cpu, Gicc.CTLR, 0b0111 | (cpu === 1 ? 1 << 9 : 0));
    c(cpu, Gicc.PMR, 0xf0 - cpu * 8);
    c(cpu, Gicc.BPR, 3 + cpu);
    c(cpu, Gicc.ABPR, 4 + cpu);
    d(cpu, Gicd.ISENABLER, 0x0800_0000 << cpu); // PPI 27 / 28
    d(cpu, Gicd.IPRIORITYR + 27, 0x88, 1);
    d(cpu, Gicd.IPRIORITYR + 28, 0x90, 1);
    d(cpu, Gicd.IPRIORITYR + 2, 0x40 + cpu * 8, 1);
    d(cpu, Gicd.ICFGR + 4, 0x0080_0000 << (2 * cpu)); // PPI 27 edge on CPU 0, 28 on CPU 1
  }
  d(0, Gicd.IGROUPR + 4, 0x0000_f000);
  d(0, Gicd.IGROUPR, 0x1000_0000);
  d(0, Gicd.ICFGR + 12, 0x0002_0000); // INTID 56 edge-triggered
  for (let i = 32; i < 96; i++) d(0, Gicd.IPRIORITYR + i, (i * 8) & 0xff, 1);
  for (let i = 32; i < 96; i++) d(0, Gicd.ITARGETSR + i, i % 3 + 1, 1);
  d(0, Gicd.ISENABLER + 4, 0xffff_0ff0);
  d(0, Gicd.ISENABLER + 8, 0x8000_0001);
  // Level SPIs with the line high, one also latched by software; an edge SPI latched by its line.
  m.setLevel(40, true);
  m.setLevel(41, true);
  d(0, Gicd.ISPENDR + 4, 1 << 9);
  m.setLevel(56, true);
  m.setLevel(56, false);
  m.setLevel(27, true, 0);
  // SGIs from both sources, one acknowledged.
  d(0, Gicd.SGIR, (0b11 << 16) | 2);
  d(1, Gicd.SGIR, (0b01 << 16) | 9);
  m.readCpuInterface(1, Gicc.IAR, 4);
  m.readCpuInterface(0, Gicc.IAR, 4);
  d(0, Gicd.ISACTIVER + 8, 1 << 30);
  // INTID 64 (priority 0, targeted at CPU 1) preempts CPU 1's running SGI: its IRQ output is high.
  d(0, Gicd.ISPENDR + 8, 1);
  return m;
}

describe('GICv2 state tables', () => {
  it('derive every row’s size from the INTID count (golden sizes for 96 and 1020 INTIDs)', () => {
    expect(gicV2StateWords(96)).toEqual({
      GICD_IIDR: { banked: 0, shared: 1 },
      GICD_TYPER: { banked: 0, shared: 1 },
      GICD_CTLR: { banked: 0, shared: 1 },
      GICD_IGROUPR: { banked: 1, shared: 2 },
      GICD_ICFGR: { banked: 2, shared: 4 },
      GICD_IPRIORITYR: { banked: 8, shared: 16 },
      GICD_ITARGETSR: { banked: 0, shared: 16 },
      LINE_LEVEL: { banked: 1, shared: 2 },
      PENDING_LATCH: { banked: 1, shared: 2 },
      GICD_SPENDSGIR: { banked: 4, shared: 0 },
      GICD_ISACTIVER: { banked: 1, shared: 2 },
      GICD_ISENABLER: { banked: 1, shared: 2 },
      GICC_CTLR: { banked: 1, shared: 0 },
      GICC_PMR: { banked: 1, shared: 0 },
      GICC_BPR: { banked: 1, shared: 0 },
      GICC_ABPR: { banked: 1, shared: 0 },
      GICC_APR: { banked: 4, shared: 0 },
    });
    const big = gicV2StateWords(1020);
    expect(big.GICD_ISENABLER).toEqual({ banked: 1, shared: 31 }); // 988 SPIs: the last word partly implemented
    expect(big.GICD_IPRIORITYR).toEqual({ banked: 8, shared: 247 });
    expect(big.GICD_ICFGR).toEqual({ banked: 2, shared: 62 });
    expect(big.GICD_ITARGETSR).toEqual({ banked: 0, shared: 247 });
  });

  it('place the SPI part of an array after the banked part', () => {
    const row = GICV2_STATE_TABLE.find((r) => r.name === 'GICD_IPRIORITYR' && !r.banked) as GicStateRegister;
    expect(registerSpan(row, 96)).toEqual({ offset: 0x420, registers: 16 });
    const cfg = GICV2_STATE_TABLE.find((r) => r.name === 'GICD_ICFGR' && !r.banked) as GicStateRegister;
    expect(registerSpan(cfg, 96)).toEqual({ offset: 0xc08, registers: 4 });
  });
});

describe('GICv2 state save and restore', () => {
  it('a restored model has exactly the saved model’s state, through JSON', () => {
    const source = busy();
    const saved = saveGicV2State(source);
    const events: [number, GicOutputLine, boolean][] = [];
    const target = model((cpu, line, level) => events.push([cpu, line, level]));
    restoreGicV2State(target, JSON.parse(JSON.stringify(saved)) as GicV2State);
    expect(Buffer.from(target.storage.flags)).toEqual(Buffer.from(source.storage.flags));
    expect(Buffer.from(target.storage.priority)).toEqual(Buffer.from(source.storage.priority));
    expect(Buffer.from(target.storage.targets.subarray(64))).toEqual(Buffer.from(source.storage.targets.subarray(64)));
    expect(Buffer.from(target.storage.sgiSources)).toEqual(Buffer.from(source.storage.sgiSources));
    expect(saveGicV2State(target)).toEqual(saved);
    // The outputs follow the restored state, reported to the new listener.
    for (const cpu of [0, 1]) for (const line of ['irq', 'fiq'] as const) expect(target.outputLevel(cpu, line)).toBe(source.outputLevel(cpu, line));
    expect(source.outputLevel(1, 'irq')).toBe(true);
    expect(events).toEqual([[1, 'irq', true]]);
  });

  it('records the saved values (golden words of the busy GIC)', () => {
    const s = saveGicV2State(busy()).registers;
    expect(s.global.GICD_CTLR).toEqual([3]);
    expect(s.global.GICD_TYPER).toEqual([0x22]);
    expect(s.global.GICD_ISENABLER).toEqual([0xffff_0ff0, 0x8000_0001]);
    expect(s.global.LINE_LEVEL).toEqual([(1 << 8) | (1 << 9), 0]);
    expect(s.global.PENDING_LATCH).toEqual([(1 << 9) | (1 << 24), 1]); // 41 and 64 by software, 56 by its edge; 40 only by its line
    expect(s.perCpu[0].LINE_LEVEL).toEqual([1 << 27]);
    expect(s.perCpu[0].GICD_SPENDSGIR).toEqual([0x01 << 16, 0, 0, 0]); // SGI 2 from CPU 0; SGI 9 (priority 0) was acknowledged first
    expect(s.perCpu[1].GICD_SPENDSGIR).toEqual([0x01 << 16, 0, 0, 0]); // CPU 1 took SPI 40 (priority 0x40, targeted at it) instead
    expect(s.perCpu[0].GICC_APR).toEqual([1, 0, 0, 0]); // level 0: SGI 9 runs
    expect(s.perCpu[1].GICC_APR).toEqual([1 << (0x40 >> 3), 0, 0, 0]);
    expect(s.perCpu[1].GICC_PMR).toEqual([0xe8]);
    expect(s.global.GICD_ISACTIVER).toEqual([1 << 8, 1 << 30]);
  });

  it('a level interrupt pending only through its line is not pending after the line drops', () => {
    const target = model();
    restoreGicV2State(target, saveGicV2State(busy()));
    target.setLevel(40, false);
    target.setLevel(41, false);
    expect(target.readDistributor(0, Gicd.ISPENDR + 4, 4) & ((1 << 8) | (1 << 9))).toBe(1 << 9);
  });

  it('refuses a state that does not fit, before changing anything', () => {
    const saved = saveGicV2State(busy());
    const target = model();
    const before = Buffer.from(target.storage.flags);
    const broken = JSON.parse(JSON.stringify(saved)) as { registers: { global: Record<string, number[]> } };
    broken.registers.global.GICD_ISENABLER = [1];
    expect(() => restoreGicV2State(target, broken as unknown as GicV2State)).toThrow(/GICD_ISENABLER: has 1 words, a GIC with 96 INTIDs needs 2/);
    delete (broken.registers.global as Record<string, unknown>).GICD_ISENABLER;
    expect(() => restoreGicV2State(target, broken as unknown as GicV2State)).toThrow(CheckpointError);
    expect(Buffer.from(target.storage.flags)).toEqual(before);
    expect(() => restoreGicV2State(model(undefined, 128), saved)).toThrow(/96 INTIDs, restoring into 2 CPUs and 128 INTIDs/);
    expect(() => restoreGicV2State(new GicV2Model({ cpus: 2, irqs: 96, priorityBits: 8 }), saved)).toThrow(/5 priority bits/);
    expect(() => restoreGicV2State(target, { ...saved, kind: 'gicv3' } as unknown as GicV2State)).toThrow(/not a saved GICv2 state/);
    const badWord = JSON.parse(JSON.stringify(saved)) as { registers: { perCpu: Record<string, number[]>[] } };
    badWord.registers.perCpu[1].GICC_PMR = [-1];
    expect(() => restoreGicV2State(target, badWord as unknown as GicV2State)).toThrow(/perCpu\[1\]\.GICC_PMR: holds -1/);
  });
});
