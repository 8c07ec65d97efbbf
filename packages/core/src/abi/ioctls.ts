import { io, ior, iow, iowr } from './ioctl-encoding';

/**
 * Architecture-neutral KVM ioctls (include/uapi/linux/kvm.h), each written once from its
 * direction, number and argument size. Arch packages add their own in their abi/ folder.
 * The macro for key K is KVM_<K>; every entry is checked against the installed kernel
 * headers by test/abi.test.ts.
 *
 * Quirks kept as the kernel defines them: GET_ONE_REG and GET_DEVICE_ATTR are _IOW (the
 * struct carries a user pointer the kernel writes through); IRQ_LINE_STATUS and
 * REGISTER_COALESCED_MMIO share nr 0x67 (told apart by direction and size).
 */
export const KvmIoctl = {
  // system fd
  GET_API_VERSION: io(0x00),
  CREATE_VM: io(0x01),
  CHECK_EXTENSION: io(0x03),
  GET_VCPU_MMAP_SIZE: io(0x04),
  // VM fd
  CREATE_VCPU: io(0x41),
  GET_DIRTY_LOG: iow(0x42, 16),
  SET_USER_MEMORY_REGION: iow(0x46, 32),
  IRQ_LINE: iow(0x61, 8),
  IRQ_LINE_STATUS: iowr(0x67, 8),
  REGISTER_COALESCED_MMIO: iow(0x67, 16),
  UNREGISTER_COALESCED_MMIO: iow(0x68, 16),
  SET_GSI_ROUTING: iow(0x6a, 8),
  IRQFD: iow(0x76, 32),
  IOEVENTFD: iow(0x79, 64),
  ENABLE_CAP: iow(0xa3, 104),
  SIGNAL_MSI: iow(0xa5, 32),
  CLEAR_DIRTY_LOG: iowr(0xc0, 24),
  RESET_DIRTY_RINGS: io(0xc7),
  CREATE_DEVICE: iowr(0xe0, 12),
  SET_DEVICE_ATTR: iow(0xe1, 24),
  GET_DEVICE_ATTR: iow(0xe2, 24),
  HAS_DEVICE_ATTR: iow(0xe3, 24),
  // vCPU fd
  RUN: io(0x80),
  SET_SIGNAL_MASK: iow(0x8b, 4),
  GET_MP_STATE: ior(0x98, 4),
  SET_MP_STATE: iow(0x99, 4),
  GET_ONE_REG: iow(0xab, 16),
  SET_ONE_REG: iow(0xac, 16),
  GET_REG_LIST: iowr(0xb0, 8),
  // VM and vCPU fd (KVM_CAP_BINARY_STATS_FD): returns a read-only fd, see ./stats.ts
  GET_STATS_FD: io(0xce),
} as const;

export type KvmIoctlName = keyof typeof KvmIoctl;
