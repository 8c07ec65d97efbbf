import { ConfigError } from '@kvmts/core';
import {
  GICV3_DIST_REGISTERS,
  GICV3_ICC_REGISTERS,
  GICV3_REDIST_RD_REGISTERS,
  GICV3_REDIST_SGI_REGISTERS,
  activePriorityRegisters,
  checkNrIrqs,
  clearWords,
  cpuSysRegAttr,
  distRegAttr,
  iccPriorityBits,
  iccRegistersFor,
  itsRegAttr,
  levelInfoAttr,
  redistRegAttr,
  registerWords,
  sysRegField,
  vgicMpidrField,
  type GicMmioRegister,
} from '@kvmts/dev-gic';

const row = (rows: readonly GicMmioRegister[], name: string): GicMmioRegister => rows.find((r) => r.name === name)!;
const dist = (name: string, n: number) => registerWords(row(GICV3_DIST_REGISTERS, name), 'dist', n);
const hex = (ws: number[]) => ws.map((w) => `0x${w.toString(16)}`);

describe('vGICv3 attr encodings (arm-vgic-v3.rst)', () => {
  it('repacks MPIDR_EL1 affinity into the attr: Aff3 from bits 39:32, bits 31:24 (RES1, U, MT) dropped', () => {
    expect(vgicMpidrField(0x8000_0000n)).toBe(0n);
    expect(vgicMpidrField(0x01_8203_0405n)).toBe(0x0103_0405n);
    expect(redistRegAttr(0x8000_0101n, 0x1_0100)).toBe(0x0000_0101_0001_0100n);
    expect(distRegAttr(0x6100)).toBe(0x6100n);
  });

  it('encodes the ICC registers as the 16-bit instruction field op0<<14 | op1<<11 | CRn<<7 | CRm<<3 | op2', () => {
    const field = Object.fromEntries(GICV3_ICC_REGISTERS.map((r) => [r.name, sysRegField(r.encoding)]));
    expect(field).toEqual({
      ICC_SRE_EL1: 0xc665,
      ICC_CTLR_EL1: 0xc664,
      ICC_IGRPEN0_EL1: 0xc666,
      ICC_IGRPEN1_EL1: 0xc667,
      ICC_PMR_EL1: 0xc230,
      ICC_BPR0_EL1: 0xc643,
      ICC_BPR1_EL1: 0xc663,
      ICC_AP0R0_EL1: 0xc644,
      ICC_AP0R1_EL1: 0xc645,
      ICC_AP0R2_EL1: 0xc646,
      ICC_AP0R3_EL1: 0xc647,
      ICC_AP1R0_EL1: 0xc648,
      ICC_AP1R1_EL1: 0xc649,
      ICC_AP1R2_EL1: 0xc64a,
      ICC_AP1R3_EL1: 0xc64b,
    });
    expect(cpuSysRegAttr(0x8000_0001n, GICV3_ICC_REGISTERS[4].encoding)).toBe(0x0000_0001_0000_c230n);
  });

  it('encodes LEVEL_INFO (info 0 = line level in bits 31:10, vINTID in 9:0) and ITS offsets', () => {
    expect(levelInfoAttr(0x8000_0000n, 64)).toBe(64n);
    expect(levelInfoAttr(0x8000_0002n, 0)).toBe(0x2_0000_0000n);
    expect(() => levelInfoAttr(0n, 40)).toThrow(ConfigError);
    expect(itsRegAttr(0x0108)).toBe(0x108n);
    expect(() => distRegAttr(0x10000)).toThrow(ConfigError);
    expect(() => redistRegAttr(0n, 0x102)).toThrow(/aligned/);
  });
});

describe('vGICv3 register tables', () => {
  it('restores in the order KVM needs: IIDR first, configuration before pending, enable and active state', () => {
    expect(GICV3_DIST_REGISTERS[0].name).toBe('GICD_IIDR');
    const names = GICV3_DIST_REGISTERS.map((r) => r.name);
    for (const config of ['GICD_IGROUPR', 'GICD_IROUTER', 'GICD_ICFGR', 'GICD_IPRIORITYR']) expect(names.indexOf(config)).toBeLessThan(names.indexOf('GICD_ISPENDR'));
    expect(GICV3_DIST_REGISTERS.filter((r) => r.phase === 'state').map((r) => r.name)).toEqual(['GICD_ISPENDR', 'GICD_ISENABLER', 'GICD_ISACTIVER']);
    const rd = GICV3_REDIST_RD_REGISTERS.map((r) => r.name);
    expect(rd.indexOf('GICR_PROPBASER')).toBeLessThan(rd.indexOf('GICR_CTLR'));
    expect(rd.indexOf('GICR_PENDBASER')).toBeLessThan(rd.indexOf('GICR_CTLR'));
    expect(GICV3_ICC_REGISTERS[0].name).toBe('ICC_SRE_EL1');
  });

  it('sizes per-interrupt registers by bits per interrupt over the SPIs (NR_IRQS 128: not gem5’s itLines/8 bytes each)', () => {
    expect(hex(dist('GICD_IGROUPR', 128))).toEqual(['0x84', '0x88', '0x8c']);
    expect(hex(dist('GICD_ISENABLER', 128))).toEqual(['0x104', '0x108', '0x10c']);
    const priorities = dist('GICD_IPRIORITYR', 128);
    expect(priorities).toHaveLength(24); // 96 SPIs × 8 bits
    expect([priorities[0], priorities[23]]).toEqual([0x420, 0x47c]);
    expect(hex(dist('GICD_ICFGR', 128))).toEqual(['0xc08', '0xc0c', '0xc10', '0xc14', '0xc18', '0xc1c']);
    expect(dist('GICD_NSACR', 128)).toHaveLength(6);
    const routes = dist('GICD_IROUTER', 128);
    expect(routes).toHaveLength(192); // 96 SPIs × 64 bits, as low and high words
    expect([routes[0], routes[1], routes[191]]).toEqual([0x6100, 0x6104, 0x63fc]);
    expect(dist('GICD_CTLR', 128)).toEqual([0]);
  });

  it('covers every SPI of the largest vGIC KVM makes (992 INTIDs)', () => {
    expect(dist('GICD_IGROUPR', 992)).toHaveLength(30);
    const priorities = dist('GICD_IPRIORITYR', 992);
    expect(priorities[priorities.length - 1]).toBe(0x400 + 988);
    const routes = dist('GICD_IROUTER', 992);
    expect(routes[routes.length - 1]).toBe(0x6000 + 8 * 991 + 4);
    expect(() => dist('GICD_IGROUPR', 1024)).toThrow(ConfigError);
    expect(() => checkNrIrqs(100)).toThrow(/64–992 interrupts in steps of 32/);
    expect(checkNrIrqs(64)).toBe(64);
  });

  it("addresses a redistributor's SGI-frame registers at 0x10000 + offset, covering INTIDs 0–31", () => {
    const sgi = (name: string) => hex(registerWords(row(GICV3_REDIST_SGI_REGISTERS, name), 'sgi', 128));
    expect(sgi('GICR_ISENABLER0')).toEqual(['0x10100']);
    expect(sgi('GICR_ICFGR')).toEqual(['0x10c00', '0x10c04']);
    expect(sgi('GICR_IPRIORITYR')).toEqual(['0x10400', '0x10404', '0x10408', '0x1040c', '0x10410', '0x10414', '0x10418', '0x1041c']);
    expect(sgi('GICR_NSACR')).toEqual(['0x10e00']);
    expect(hex(registerWords(row(GICV3_REDIST_RD_REGISTERS, 'GICR_PROPBASER'), 'rd', 128))).toEqual(['0x70', '0x74']);
    expect(hex(clearWords(row(GICV3_REDIST_SGI_REGISTERS, 'GICR_ISACTIVER0'), 'sgi', 128))).toEqual(['0x10380']);
    expect(hex(clearWords(row(GICV3_DIST_REGISTERS, 'GICD_ISENABLER'), 'dist', 128))).toEqual(['0x184', '0x188', '0x18c']);
  });

  it('keeps the active-priority registers the implemented priority bits have (ICC_CTLR_EL1.PRIbits)', () => {
    expect(iccPriorityBits(0x4n << 8n)).toBe(5);
    expect([5, 6, 7, 8].map(activePriorityRegisters)).toEqual([1, 2, 4, 4]);
    expect(iccRegistersFor(5).map((r) => r.name).filter((n) => n.startsWith('ICC_AP'))).toEqual(['ICC_AP0R0_EL1', 'ICC_AP1R0_EL1']);
    expect(iccRegistersFor(7).filter((r) => r.apIndex !== undefined)).toHaveLength(8);
    expect(() => activePriorityRegisters(4)).toThrow(ConfigError);
  });
});
