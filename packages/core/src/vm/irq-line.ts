import { KvmIoctl } from '../abi/ioctls';
import { IrqLevelLayout } from '../abi/kvm-run';
import { kvmIoctl } from '../kvm/ioctl';

/**
 * Where device interrupt lines go (`DeviceContext.setIrqLine`): one per thread that hosts
 * devices. The default is KVM_IRQ_LINE (an in-kernel irqchip); an arch plugin without one
 * supplies its own (`ArchPlugin.irqLines`, x86's userspace interrupt controller).
 */
export interface IrqLines {
  set(line: number, level: boolean): void;
}

/**
 * KVM_IRQ_LINE on a VM fd with a reused request buffer (devices toggle lines often). Usable
 * from any thread: a vCPU worker drives its devices' lines without a hop to the main thread.
 */
export class IrqLineDriver implements IrqLines {
  private readonly req = new DataView(new ArrayBuffer(IrqLevelLayout.size));

  constructor(private readonly vmFd: number) {}

  set(irq: number, level: boolean): void {
    this.req.setUint32(IrqLevelLayout.irq, irq >>> 0, true);
    this.req.setUint32(IrqLevelLayout.level, level ? 1 : 0, true);
    kvmIoctl(this.vmFd, KvmIoctl.IRQ_LINE, 'KVM_IRQ_LINE', this.req);
  }
}
