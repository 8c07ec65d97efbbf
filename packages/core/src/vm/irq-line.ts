import { KvmIoctl } from '../abi/ioctls';
import { IrqLevelLayout } from '../abi/kvm-run';
import { kvmIoctl } from '../kvm/ioctl';

/**
 * KVM_IRQ_LINE on a VM fd with a reused request buffer (devices toggle lines often). Usable
 * from any thread: a vCPU worker drives its devices' lines without a hop to the main thread.
 */
export class IrqLineDriver {
  private readonly req = new DataView(new ArrayBuffer(IrqLevelLayout.size));

  constructor(private readonly vmFd: number) {}

  set(irq: number, level: boolean): void {
    this.req.setUint32(IrqLevelLayout.irq, irq >>> 0, true);
    this.req.setUint32(IrqLevelLayout.level, level ? 1 : 0, true);
    kvmIoctl(this.vmFd, KvmIoctl.IRQ_LINE, 'KVM_IRQ_LINE', this.req);
  }
}
