/**
 * The `irq` word of KVM_IRQ_LINE on arm64 (api.rst "KVM_IRQ_LINE"):
 *
 *   31:28 vcpu2_index  27:24 irq_type  23:16 vcpu_index  15:0 irq_id
 *
 * vCPU = 256 * vcpu2_index + vcpu_index; vcpu2_index needs KVM_CAP_ARM_IRQ_LINE_LAYOUT_2 (vCPUs
 * ≥ 256). gem5's macros dropped vcpu2 (gem5-kvm.md §11.10); here the field is always encoded.
 * SGIs cannot be injected this way.
 */
import { ConfigError } from '@kvmts/core';
import { Arm64IrqCpuLine, Arm64IrqLineField as F, Arm64IrqType } from './constants';

export type Arm64IrqLine =
  /** A shared peripheral interrupt, INTID 32–1019 (FDT cell n is INTID 32 + n); needs the in-kernel GIC. */
  | { readonly type: 'spi'; readonly intid: number }
  /** A private peripheral interrupt of one vCPU, INTID 16–31; needs the in-kernel GIC. */
  | { readonly type: 'ppi'; readonly vcpu: number; readonly intid: number }
  /** The IRQ or FIQ input of one vCPU, only without an in-kernel GIC (a userspace GIC drives it). */
  | { readonly type: 'cpu'; readonly vcpu: number; readonly line: 'irq' | 'fiq' };

/** vCPUs the two index fields can name (4 + 8 bits). */
export const ARM64_IRQ_LINE_MAX_VCPUS = (F.VCPU2_MASK + 1) * (F.VCPU_MASK + 1);

const INTID_RANGE = { spi: [32, 1019], ppi: [16, 31] } as const;

function checkVcpu(vcpu: number): void {
  if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= ARM64_IRQ_LINE_MAX_VCPUS) {
    throw new ConfigError('irqLine.vcpu', `must be an integer in [0, ${ARM64_IRQ_LINE_MAX_VCPUS - 1}], got ${vcpu}`);
  }
}

function checkIntid(type: 'spi' | 'ppi', intid: number): void {
  const [min, max] = INTID_RANGE[type];
  if (!Number.isInteger(intid) || intid < min || intid > max) throw new ConfigError('irqLine.intid', `a ${type.toUpperCase()} is INTID ${min}–${max}, got ${intid}`);
}

function pack(type: number, vcpu: number, num: number): number {
  const vcpu2 = Math.floor(vcpu / (F.VCPU_MASK + 1));
  return ((vcpu2 << F.VCPU2_SHIFT) | (type << F.TYPE_SHIFT) | ((vcpu & F.VCPU_MASK) << F.VCPU_SHIFT) | (num << F.NUM_SHIFT)) >>> 0;
}

/** The KVM_IRQ_LINE `irq` value for `line` (unsigned 32-bit). Throws ConfigError on an out-of-range field. */
export function encodeIrqLine(line: Arm64IrqLine): number {
  switch (line.type) {
    case 'spi':
      checkIntid('spi', line.intid);
      return pack(Arm64IrqType.SPI, 0, line.intid);
    case 'ppi':
      checkVcpu(line.vcpu);
      checkIntid('ppi', line.intid);
      return pack(Arm64IrqType.PPI, line.vcpu, line.intid);
    case 'cpu':
      checkVcpu(line.vcpu);
      return pack(Arm64IrqType.CPU, line.vcpu, line.line === 'fiq' ? Arm64IrqCpuLine.FIQ : Arm64IrqCpuLine.IRQ);
  }
}

/** The line a KVM_IRQ_LINE `irq` value names (for dumps and tests). Throws ConfigError on an unknown type. */
export function decodeIrqLine(irq: number): Arm64IrqLine {
  const type = (irq >>> F.TYPE_SHIFT) & F.TYPE_MASK;
  const vcpu = ((irq >>> F.VCPU2_SHIFT) & F.VCPU2_MASK) * (F.VCPU_MASK + 1) + ((irq >>> F.VCPU_SHIFT) & F.VCPU_MASK);
  const num = (irq >>> F.NUM_SHIFT) & F.NUM_MASK;
  switch (type) {
    case Arm64IrqType.SPI:
      return { type: 'spi', intid: num };
    case Arm64IrqType.PPI:
      return { type: 'ppi', vcpu, intid: num };
    case Arm64IrqType.CPU:
      return { type: 'cpu', vcpu, line: num === Arm64IrqCpuLine.FIQ ? 'fiq' : 'irq' };
    default:
      throw new ConfigError('irqLine.type', `irq_type ${type} is not CPU (0), SPI (1) or PPI (2)`);
  }
}
