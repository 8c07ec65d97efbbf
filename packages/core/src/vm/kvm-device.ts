import * as native from '@kvmts/native';
import { KvmIoctl } from '../abi/ioctls';
import { DeviceAttrLayout } from '../abi/kvm-run';
import { kvmIoctl } from '../kvm/ioctl';
import { ScratchBuffer } from '../kvm/scratch';

/**
 * An in-kernel device created with KVM_CREATE_DEVICE (vGIC, ITS, VFIO, …): typed attribute
 * access through its fd. Request and value buffers are allocated once per device, so
 * register-table copies (dev-gic) move many attributes without allocating.
 */
export class KvmDevice {
  private readonly attr = new DataView(new ArrayBuffer(DeviceAttrLayout.size));
  /** The attribute value lives in native memory because the kernel is handed its address. */
  private readonly scratch = new ScratchBuffer(4096);
  private closed = false;

  constructor(readonly fd: number, readonly type: number) {}

  private prepare(group: number, attr: bigint, flags = 0): DataView {
    const a = this.attr;
    a.setUint32(DeviceAttrLayout.flags, flags, true);
    a.setUint32(DeviceAttrLayout.group, group, true);
    a.setBigUint64(DeviceAttrLayout.attr, attr, true);
    a.setBigUint64(DeviceAttrLayout.addr, this.scratch.address, true);
    return a;
  }

  /** KVM_SET_DEVICE_ATTR with a 64-bit value (the kernel reads 4 or 8 bytes as the attribute defines). */
  setAttr(group: number, attr: bigint | number, value: bigint | number = 0n): void {
    this.scratch.view.setBigUint64(0, BigInt(value), true);
    kvmIoctl(this.fd, KvmIoctl.SET_DEVICE_ATTR, `KVM_SET_DEVICE_ATTR(group ${group}, attr 0x${BigInt(attr).toString(16)})`, this.prepare(group, BigInt(attr)));
  }

  /** KVM_GET_DEVICE_ATTR; returns the 64-bit buffer (mask to 32 bits for 32-bit attributes). */
  getAttr(group: number, attr: bigint | number): bigint {
    this.scratch.view.setBigUint64(0, 0n, true);
    kvmIoctl(this.fd, KvmIoctl.GET_DEVICE_ATTR, `KVM_GET_DEVICE_ATTR(group ${group}, attr 0x${BigInt(attr).toString(16)})`, this.prepare(group, BigInt(attr)));
    return this.scratch.view.getBigUint64(0, true);
  }

  hasAttr(group: number, attr: bigint | number): boolean {
    return native.ioctlErrno(this.fd, KvmIoctl.HAS_DEVICE_ATTR, this.prepare(group, BigInt(attr))) === 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    native.close(this.fd);
    this.scratch.free();
  }
}
