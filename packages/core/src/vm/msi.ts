import { KvmIoctl } from '../abi/ioctls';
import { KVM_MSI_VALID_DEVID } from '../abi/irq-routing';
import { MsiLayout } from '../abi/kvm-run';
import { ConfigError } from '../errors/errors';
import { kvmIoctl } from '../kvm/ioctl';

/**
 * A message-signalled interrupt: the memory write a device makes to raise it. What the address
 * and data mean is the architecture's (x86: the LAPIC window at 0xFEE00000 with the destination
 * APIC id in bits 19:12, the vector in data bits 7:0).
 */
export interface MsiMessage {
  /** 64-bit target address. */
  readonly address: bigint | number;
  /** 32-bit payload. */
  readonly data: number;
  /** Requester id, for controllers that need it (an arm64 ITS); x86 has none. */
  readonly devid?: number;
}

/** The message, checked: a ConfigError names `where`'s bad field. */
export function checkMsiMessage(msg: MsiMessage, where: string): { addressLo: number; addressHi: number; data: number; devid: number | undefined } {
  if (typeof msg !== 'object' || msg === null) throw new ConfigError(where, 'must be an MSI message { address, data }');
  const address = typeof msg.address === 'number' && Number.isSafeInteger(msg.address) ? BigInt(msg.address) : msg.address;
  if (typeof address !== 'bigint' || address < 0n || address >= 1n << 64n) {
    throw new ConfigError(`${where}.address`, `must be an unsigned 64-bit integer, got ${String(msg.address)}`);
  }
  if (!Number.isInteger(msg.data) || msg.data < 0 || msg.data > 0xffffffff) {
    throw new ConfigError(`${where}.data`, `must be an unsigned 32-bit integer, got ${String(msg.data)}`);
  }
  if (msg.devid !== undefined && (!Number.isInteger(msg.devid) || msg.devid < 0 || msg.devid > 0xffffffff)) {
    throw new ConfigError(`${where}.devid`, `must be an unsigned 32-bit integer, got ${String(msg.devid)}`);
  }
  return { addressLo: Number(address & 0xffffffffn), addressHi: Number(address >> 32n), data: msg.data, devid: msg.devid };
}

/** Fill a struct kvm_msi. */
export function encodeMsi(msg: MsiMessage, into: DataView = new DataView(new ArrayBuffer(MsiLayout.size))): DataView {
  const m = checkMsiMessage(msg, 'msi');
  into.setUint32(MsiLayout.address_lo, m.addressLo, true);
  into.setUint32(MsiLayout.address_hi, m.addressHi, true);
  into.setUint32(MsiLayout.data, m.data, true);
  into.setUint32(MsiLayout.flags, m.devid !== undefined ? KVM_MSI_VALID_DEVID : 0, true);
  into.setUint32(MsiLayout.devid, m.devid ?? 0, true);
  return into;
}

/**
 * KVM_SIGNAL_MSI on a VM fd with a reused request buffer: inject one MSI without a routing entry
 * (needs an in-kernel irqchip and KVM_CAP_SIGNAL_MSI). Usable from any thread, like IrqLineDriver.
 */
export class MsiSignaller {
  private readonly req = new DataView(new ArrayBuffer(MsiLayout.size));

  constructor(private readonly vmFd: number) {}

  /** Returns true if the message reached a CPU, false if the guest blocked it (KVM returned 0). */
  signal(msg: MsiMessage): boolean {
    encodeMsi(msg, this.req);
    return kvmIoctl(this.vmFd, KvmIoctl.SIGNAL_MSI, 'KVM_SIGNAL_MSI', this.req) > 0;
  }
}
