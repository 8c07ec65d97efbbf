import { kvmIoctl, type KvmVM } from '@kvmts/core';
import { X86Ioctl } from '../abi/ioctls';
import { X86IrqchipLayout, X86PicStateLayout } from '../abi/layouts';
import { X86Irqchip } from '../abi/constants';

/** What the in-kernel PIC (both 8259s, KVM_GET_IRQCHIP) holds, as 16-bit masks: bit n = ISA IRQ n. */
export interface PicLines {
  /** Input-line levels as last driven (KVM_IRQ_LINE, irqfd): what KVM believes each line's level is. */
  readonly levels: number;
  /** Interrupt requests latched and not yet acknowledged by a CPU (IRR). */
  readonly requests: number;
}

export function readPicLines(vm: KvmVM): PicLines {
  let levels = 0;
  let requests = 0;
  for (const [chip, shift] of [[X86Irqchip.PIC_MASTER, 0], [X86Irqchip.PIC_SLAVE, 8]] as const) {
    const b = new DataView(new ArrayBuffer(X86IrqchipLayout.size));
    b.setUint32(X86IrqchipLayout.fields.chip_id.offset, chip, true);
    kvmIoctl(vm.fd, X86Ioctl.GET_IRQCHIP, `KVM_GET_IRQCHIP(${shift === 0 ? 'PIC master' : 'PIC slave'})`, b);
    const pic = X86IrqchipLayout.fields.chip.offset;
    levels |= b.getUint8(pic + X86PicStateLayout.fields.last_irr.offset) << shift;
    requests |= b.getUint8(pic + X86PicStateLayout.fields.irr.offset) << shift;
  }
  return { levels, requests };
}
