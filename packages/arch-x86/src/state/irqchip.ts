import { kvmIoctl, type KvmVM } from '@kvmts/core';
import { X86Ioctl } from '../abi/ioctls';
import { X86IrqchipLayout, X86PicStateLayout } from '../abi/layouts';
import { X86Irqchip } from '../abi/constants';

/**
 * The input-line levels of the in-kernel PIC (KVM_GET_IRQCHIP, both 8259s), as a 16-bit mask:
 * bit n = ISA IRQ n as last driven (KVM_IRQ_LINE). What the in-kernel irqchip believes a line's
 * level is — the figure to compare with a device's own idea of its interrupt output.
 */
export function readPicLineLevels(vm: KvmVM): number {
  const levels = [X86Irqchip.PIC_MASTER, X86Irqchip.PIC_SLAVE].map((chip) => {
    const b = new DataView(new ArrayBuffer(X86IrqchipLayout.size));
    b.setUint32(X86IrqchipLayout.fields.chip_id.offset, chip, true);
    kvmIoctl(vm.fd, X86Ioctl.GET_IRQCHIP, `KVM_GET_IRQCHIP(${chip === X86Irqchip.PIC_MASTER ? 'PIC master' : 'PIC slave'})`, b);
    return b.getUint8(X86IrqchipLayout.fields.chip.offset + X86PicStateLayout.fields.last_irr.offset);
  });
  return levels[0] | (levels[1] << 8);
}
