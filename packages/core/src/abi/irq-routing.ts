import type { AbiStruct } from './layout';

/**
 * KVM_SET_GSI_ROUTING's argument: `struct kvm_irq_routing` (a count, flags 0, then `nr`
 * entries) and one `struct kvm_irq_routing_entry` (48 bytes: gsi, type, flags, pad, then a
 * 32-byte union of which kvmts uses the irqchip and msi members). include/uapi/linux/kvm.h.
 */
export const KvmIrqRoutingLayout = {
  struct: 'kvm_irq_routing',
  size: 8,
  fields: {
    nr: { offset: 0, size: 4 },
    flags: { offset: 4, size: 4 },
    entries: { offset: 8, size: 0, stride: 48 },
  },
} as const satisfies AbiStruct;

export const KvmIrqRoutingEntryLayout = {
  struct: 'kvm_irq_routing_entry',
  size: 48,
  fields: {
    gsi: { offset: 0, size: 4 },
    type: { offset: 4, size: 4 },
    flags: { offset: 8, size: 4 },
    pad: { offset: 12, size: 4 },
    'u.irqchip.irqchip': { offset: 16, size: 4 },
    'u.irqchip.pin': { offset: 20, size: 4 },
    'u.msi.address_lo': { offset: 16, size: 4 },
    'u.msi.address_hi': { offset: 20, size: 4 },
    'u.msi.data': { offset: 24, size: 4 },
    'u.msi.devid': { offset: 28, size: 4 },
    'u.pad': { offset: 16, size: 32, stride: 4 },
  },
} as const satisfies AbiStruct;

/** kvm_irq_routing_entry.type: a pin of an in-kernel interrupt controller. */
export const KVM_IRQ_ROUTING_IRQCHIP = 1;
/** kvm_irq_routing_entry.type: an MSI message (address, data). */
export const KVM_IRQ_ROUTING_MSI = 2;
/** kvm_msi.flags / routing entry flags: `devid` is valid (needed by an arm64 ITS, not by x86). */
export const KVM_MSI_VALID_DEVID = 1;
