/**
 * The vGICv3 state copy's logic — what it reads, in which order it writes, what it refuses —
 * against a register file that stands in for the device attributes (the real vGIC's behaviour
 * is the nested arm64 suite's: vgic-checkpoint.nested-arm64.test.ts).
 */
import { CheckpointError } from '@kvmts/core';
import { Arm64VgicCtrl, Arm64VgicGroup as G } from '@kvmts/arch-arm64';
import { cpuSysRegAttr, distRegAttr, levelInfoAttr, redistRegAttr, restoreIts, restoreVgicV3, saveIts, saveVgicV3, type DeviceAttrIo } from '@kvmts/dev-gic';

const MPIDRS = [0x8000_0000n, 0x8000_0001n];
const LAYOUT = { nrIrqs: 128, mpidrs: MPIDRS };
const ICC_CTLR = { op0: 3, op1: 0, crn: 12, crm: 12, op2: 4 };

/** Device attributes as a map; every write is logged as 'group:attr=value'. */
class RegisterFile implements DeviceAttrIo {
  readonly values = new Map<string, bigint>();
  readonly log: string[] = [];
  constructor(private readonly missing = new Set<string>()) {}
  static key(group: number, attr: bigint | number): string {
    return `${group}:0x${BigInt(attr).toString(16)}`;
  }
  getAttr(group: number, attr: bigint | number): bigint {
    const k = RegisterFile.key(group, attr);
    if (this.missing.has(k)) throw new Error(`ENXIO ${k}`);
    return this.values.get(k) ?? BigInt(`0x${(Number(BigInt(attr) & 0xffffn) * 7 + group).toString(16)}`) & 0xffff_ffffn;
  }
  setAttr(group: number, attr: bigint | number, value: bigint | number = 0n): void {
    const k = RegisterFile.key(group, attr);
    this.log.push(`${k}=0x${BigInt(value).toString(16)}`);
    this.values.set(k, BigInt(value));
  }
  hasAttr(group: number, attr: bigint | number): boolean {
    return !this.missing.has(RegisterFile.key(group, attr));
  }
  index(group: number, attr: bigint): number {
    return this.log.findIndex((l) => l.startsWith(`${RegisterFile.key(group, attr)}=`));
  }
}

function source(): RegisterFile {
  const f = new RegisterFile();
  for (const m of MPIDRS) f.values.set(RegisterFile.key(G.CPU_SYSREGS, cpuSysRegAttr(m, ICC_CTLR)), 0x4n << 8n); // 5 priority bits
  return f;
}

/** A source whose vCPU 1 has LPI tables set up (GICR_PROPBASER differs from a fresh vGIC's). */
function sourceWithLpiTables(): RegisterFile {
  const f = source();
  f.values.set(RegisterFile.key(G.REDIST_REGS, redistRegAttr(MPIDRS[1], 0x70)), 0x4800_0f8dn);
  f.values.set(RegisterFile.key(G.REDIST_REGS, redistRegAttr(MPIDRS[1], 0x74)), 0x1n);
  return f;
}

describe('vGICv3 state copy', () => {
  it('saves every table row at its size, per vCPU by MPIDR, with the AP registers the priority bits implement', () => {
    const s = saveVgicV3(source(), LAYOUT);
    expect(s.nrIrqs).toBe(128);
    expect(s.distributor.GICD_IPRIORITYR).toHaveLength(24);
    expect(s.distributor.GICD_IROUTER).toHaveLength(192);
    expect(s.distributor.GICD_ICFGR).toHaveLength(6);
    expect(s.spiLineLevels).toHaveLength(3);
    expect(s.cpus.map((c) => c.mpidr)).toEqual(MPIDRS);
    expect(s.cpus[1].redistributor.GICR_PROPBASER).toHaveLength(2);
    expect(s.cpus[1].redistributor.GICR_IPRIORITYR).toHaveLength(8);
    expect(Object.keys(s.cpus[0].cpuInterface)).toEqual([
      'ICC_SRE_EL1', 'ICC_CTLR_EL1', 'ICC_IGRPEN0_EL1', 'ICC_IGRPEN1_EL1', 'ICC_PMR_EL1', 'ICC_BPR0_EL1', 'ICC_BPR1_EL1', 'ICC_AP0R0_EL1', 'ICC_AP1R0_EL1',
    ]);
  });

  it('restores IIDR first, configuration before line levels before pending bits, clear before set, PROPBASER before GICR_CTLR, SRE first', () => {
    const saved = saveVgicV3(sourceWithLpiTables(), LAYOUT);
    const target = source();
    restoreVgicV3(target, LAYOUT, saved);
    const at = (group: number, attr: bigint) => target.index(group, attr);
    expect(target.log[0]).toBe(`${RegisterFile.key(G.DIST_REGS, distRegAttr(0x8))}=0x${saved.distributor.GICD_IIDR[0].toString(16)}`);
    expect(at(G.DIST_REGS, distRegAttr(0x420))).toBeLessThan(at(G.LEVEL_INFO, levelInfoAttr(MPIDRS[0], 32)));
    expect(at(G.DIST_REGS, distRegAttr(0x6100))).toBeLessThan(at(G.DIST_REGS, distRegAttr(0x204)));
    expect(at(G.LEVEL_INFO, levelInfoAttr(MPIDRS[0], 96))).toBeLessThan(at(G.DIST_REGS, distRegAttr(0x204)));
    expect(target.log[at(G.DIST_REGS, distRegAttr(0x184))]).toMatch(/=0xffffffff$/);
    expect(at(G.DIST_REGS, distRegAttr(0x184))).toBeLessThan(at(G.DIST_REGS, distRegAttr(0x104)));
    expect(at(G.REDIST_REGS, redistRegAttr(MPIDRS[1], 0x70))).toBeGreaterThan(-1);
    expect(at(G.REDIST_REGS, redistRegAttr(MPIDRS[1], 0x74))).toBeLessThan(at(G.REDIST_REGS, redistRegAttr(MPIDRS[1], 0x0)));
    // A table base the fresh vGIC already reads is left alone: KVM would sanitise a written 0 into its defaults.
    expect(at(G.REDIST_REGS, redistRegAttr(MPIDRS[0], 0x70))).toBe(-1);
    expect(at(G.REDIST_REGS, redistRegAttr(MPIDRS[0], 0x74))).toBe(-1);
    expect(at(G.LEVEL_INFO, levelInfoAttr(MPIDRS[1], 0))).toBeLessThan(at(G.REDIST_REGS, redistRegAttr(MPIDRS[1], 0x10200)));
    const sre = at(G.CPU_SYSREGS, cpuSysRegAttr(MPIDRS[0], { op0: 3, op1: 0, crn: 12, crm: 12, op2: 5 }));
    expect(target.log.slice(0, sre).some((l) => l.startsWith(`${G.CPU_SYSREGS}:`))).toBe(false);
    // Read-only registers are compared, never written.
    expect(at(G.DIST_REGS, distRegAttr(0x4))).toBe(-1);
    expect(at(G.REDIST_REGS, redistRegAttr(MPIDRS[0], 0x8))).toBe(-1);
    // What was written back is what was saved.
    expect(saveVgicV3(target, LAYOUT)).toEqual(saved);
  });

  it('refuses a GIC built differently, naming the register, NR_IRQS or the vCPU', () => {
    const saved = saveVgicV3(source(), LAYOUT);
    const other = source();
    other.values.set(RegisterFile.key(G.DIST_REGS, distRegAttr(0x4)), 0x0048_0007n);
    const error = (() => {
      try {
        restoreVgicV3(other, LAYOUT, saved);
      } catch (e) {
        return e as CheckpointError;
      }
      throw new Error('no error');
    })();
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.code).toBe('incompatible');
    expect(error.message).toContain('GICD_TYPER');
    expect(() => restoreVgicV3(source(), { ...LAYOUT, nrIrqs: 160 }, saved)).toThrow(/nrIrqs/);
    expect(() => restoreVgicV3(source(), { ...LAYOUT, mpidrs: [MPIDRS[1], MPIDRS[0]] }, saved)).toThrow(/same order/);
  });

  it('skips registers the saving KVM lacks, and refuses to restore one the restoring KVM lacks', () => {
    const statusr = RegisterFile.key(G.DIST_REGS, distRegAttr(0x10));
    const lacking = new RegisterFile(new Set([statusr]));
    for (const m of MPIDRS) lacking.values.set(RegisterFile.key(G.CPU_SYSREGS, cpuSysRegAttr(m, ICC_CTLR)), 0x4n << 8n);
    expect(saveVgicV3(lacking, LAYOUT).distributor.GICD_STATUSR).toBeUndefined();
    expect(() => restoreVgicV3(lacking, LAYOUT, saveVgicV3(source(), LAYOUT))).toThrow(/GICD_STATUSR.*does not implement it/);
  });

  it('saves an ITS after ITS_SAVE_TABLES and restores it with ITS_RESTORE_TABLES before GITS_CTLR', () => {
    const its = new RegisterFile();
    its.values.set(RegisterFile.key(G.ITS_REGS, 0x80n), 0x1800_0000_4000_0001n); // GITS_CBASER set up by a guest
    const saved = saveIts(its);
    expect(its.log[0]).toBe(`${RegisterFile.key(G.CTRL, Arm64VgicCtrl.ITS_SAVE_TABLES)}=0x0`);
    expect(Object.keys(saved.registers)).toHaveLength(14);
    const target = new RegisterFile();
    restoreIts(target, saved);
    const restoreTables = target.index(G.CTRL, BigInt(Arm64VgicCtrl.ITS_RESTORE_TABLES));
    expect(target.index(G.ITS_REGS, 0x4n)).toBe(0); // GITS_IIDR first
    expect(target.index(G.ITS_REGS, 0x80n)).toBeGreaterThan(0);
    expect(target.index(G.ITS_REGS, 0x80n)).toBeLessThan(target.index(G.ITS_REGS, 0x90n)); // CBASER before CREADR
    expect(target.index(G.ITS_REGS, 0x88n)).toBeLessThan(restoreTables);
    expect(target.index(G.ITS_REGS, 0x138n)).toBe(-1); // GITS_BASER7 as a fresh ITS has it: not written
    expect(target.index(G.ITS_REGS, 0x0n)).toBe(target.log.length - 1); // GITS_CTLR last
    expect(target.index(G.ITS_REGS, 0x8n)).toBe(-1); // GITS_TYPER compared
  });
});
