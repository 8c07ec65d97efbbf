/**
 * The GICv3 model behind the interface KVM's vGICv3 device fd offers (arm-vgic-v3.rst): the
 * same groups and attr encodings (DIST_REGS, REDIST_REGS by mpidr, CPU_SYSREGS by mpidr and
 * instruction encoding, LEVEL_INFO), with the device attributes' semantics (frames.ts 'user'
 * view). Because it is a DeviceAttrIo, ../kernel/v3-state.ts's saveVgicV3/restoreVgicV3 move
 * state between the kernel and the model with the one set of register tables and the one
 * restore order — no second copy of either.
 */
import { ConfigError } from '@kvmts/core';
import { Arm64VgicGroup } from '@kvmts/arch-arm64';
import { GIC_SPI_BASE } from '../intid';
import type { DeviceAttrIo } from '../kernel/v3-state';
import { GICV3_DIST_REGISTERS, GICV3_REDIST_RD_REGISTERS, GICV3_REDIST_SGI_REGISTERS, registerWords } from '../kernel/v3-state-table';
import { VGIC_LEVEL_INFO_SHIFT, VGIC_LEVEL_INFO_LINE_LEVEL, vgicMpidrField } from '../kernel/v3-attr';
import { iccName } from './cpu-interface';
import type { GicV3Model } from './model';

const G = Arm64VgicGroup;
const U32 = 0xffff_ffffn;

/**
 * A DeviceAttrIo over `model`. `implemented`: names of the state-table rows the model answers
 * hasAttr for (default all) — a mux passes the rows the kernel it copies implements, so what
 * the model saves is exactly what that kernel takes back.
 */
export function gicV3AttrIo(model: GicV3Model, implemented?: ReadonlySet<string>): DeviceAttrIo {
  const mpidrFields = model.geometry.mpidrs.map(vgicMpidrField);
  const cpuOf = (attr: bigint): number => {
    const cpu = mpidrFields.indexOf(attr >> 32n);
    if (cpu < 0) throw new ConfigError('gicv3 attr', `no CPU with affinity 0x${(attr >> 32n).toString(16)} (EINVAL from KVM)`);
    return cpu;
  };
  const offsetOf = (attr: bigint): number => Number(attr & U32);
  // First words of rows the model does not claim (so readRows skips them, as with a kernel that lacks them).
  const absent = new Map<number, Set<number>>([
    [G.DIST_REGS, new Set()],
    [G.REDIST_REGS, new Set()],
  ]);
  if (implemented) {
    const nr = model.geometry.nrIrqs;
    for (const r of GICV3_DIST_REGISTERS) if (!implemented.has(r.name)) absent.get(G.DIST_REGS)!.add(registerWords(r, 'dist', nr)[0]);
    for (const r of GICV3_REDIST_RD_REGISTERS) if (!implemented.has(r.name)) absent.get(G.REDIST_REGS)!.add(registerWords(r, 'rd', nr)[0]);
    for (const r of GICV3_REDIST_SGI_REGISTERS) if (!implemented.has(r.name)) absent.get(G.REDIST_REGS)!.add(registerWords(r, 'sgi', nr)[0]);
  }
  const levelInfo = (attr: bigint): number => {
    const field = Number(attr & U32);
    const info = field >>> VGIC_LEVEL_INFO_SHIFT;
    const vintid = field & 0x3ff;
    if (info !== VGIC_LEVEL_INFO_LINE_LEVEL || vintid % 32 !== 0 || vintid >= model.geometry.nrIrqs) throw new ConfigError('gicv3 attr', `LEVEL_INFO 0x${field.toString(16)} is not a line-level word of this GIC`);
    return vintid;
  };
  const irqs = model.interrupts;

  return {
    hasAttr(group, attr) {
      const a = BigInt(attr);
      if (group === G.DIST_REGS || group === G.REDIST_REGS) return !absent.get(group)!.has(offsetOf(a));
      return group === G.CPU_SYSREGS || group === G.LEVEL_INFO;
    },
    getAttr(group, attr) {
      const a = BigInt(attr);
      switch (group) {
        case G.DIST_REGS:
          return BigInt(model.readDistributor(offsetOf(a), 'user'));
        case G.REDIST_REGS:
          return BigInt(model.readRedistributor(cpuOf(a), offsetOf(a), 'user'));
        case G.CPU_SYSREGS:
          return model.cpuInterfaces.get(cpuOf(a), iccName(sysRegEncodingOf(a)));
        case G.LEVEL_INFO: {
          // Line levels of level-sensitive interrupts only (KVM reports 0 for edge-triggered ones).
          const vintid = levelInfo(a);
          const cpu = vintid < GIC_SPI_BASE ? cpuOf(a) : 0;
          let word = 0;
          for (let i = 0; i < 32; i++) {
            const slot = irqs.slot(cpu, vintid + i);
            if (!irqs.isEdge(slot) && irqs.line[slot]) word |= 1 << i;
          }
          return BigInt(word >>> 0);
        }
      }
      throw new ConfigError('gicv3 attr', `group ${group} is not modelled (ENXIO from KVM)`);
    },
    setAttr(group, attr, value = 0n) {
      const a = BigInt(attr);
      const v = BigInt(value);
      switch (group) {
        case G.DIST_REGS:
          return model.writeDistributor(offsetOf(a), Number(v & U32), 'user');
        case G.REDIST_REGS:
          return model.writeRedistributor(cpuOf(a), offsetOf(a), Number(v & U32), 'user');
        case G.CPU_SYSREGS:
          model.cpuInterfaces.set(cpuOf(a), iccName(sysRegEncodingOf(a)), v);
          return model.update();
        case G.LEVEL_INFO: {
          const vintid = levelInfo(a);
          const cpu = vintid < GIC_SPI_BASE ? cpuOf(a) : 0;
          for (let i = vintid < GIC_SPI_BASE ? 16 : 0; i < 32; i++) {
            const slot = irqs.slot(cpu, vintid + i);
            if (!irqs.isEdge(slot)) irqs.line[slot] = Number((v >> BigInt(i)) & 1n); // SGI bits RAZ/WI; edge-triggered lines are not state
          }
          return model.update();
        }
      }
      throw new ConfigError('gicv3 attr', `group ${group} is not modelled (ENXIO from KVM)`);
    },
  };
}

/** The instruction fields of a CPU_SYSREGS attr (bits 15:0). */
function sysRegEncodingOf(attr: bigint) {
  const f = Number(attr & 0xffffn);
  return { op0: (f >> 14) & 3, op1: (f >> 11) & 7, crn: (f >> 7) & 0xf, crm: (f >> 3) & 0xf, op2: f & 7 };
}

