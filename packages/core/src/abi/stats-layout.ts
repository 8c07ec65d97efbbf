import type { AbiStruct } from './layout';

/**
 * The binary statistics format read from the fd that KVM_GET_STATS_FD returns
 * (include/uapi/linux/kvm.h, Documentation/virt/kvm/api.rst "KVM_GET_STATS_FD"):
 * a header at offset 0, an id string, `num_desc` descriptors of
 * `sizeof(kvm_stats_desc) + name_size` bytes each, and a data block of u64 values.
 */
export const KvmStatsHeaderLayout = {
  struct: 'kvm_stats_header',
  size: 24,
  fields: {
    flags: { offset: 0, size: 4 },
    name_size: { offset: 4, size: 4 },
    num_desc: { offset: 8, size: 4 },
    id_offset: { offset: 12, size: 4 },
    desc_offset: { offset: 16, size: 4 },
    data_offset: { offset: 20, size: 4 },
  },
} as const satisfies AbiStruct;

/** One descriptor; `name` (name_size bytes, NUL-padded) follows the fixed part. */
export const KvmStatsDescLayout = {
  struct: 'kvm_stats_desc',
  size: 16,
  fields: {
    flags: { offset: 0, size: 4 },
    /** __s16: value × base^exponent is the quantity in `unit`. */
    exponent: { offset: 4, size: 2 },
    /** Number of u64 data items (1 for a counter, buckets for a histogram). */
    size: { offset: 6, size: 2 },
    /** Offset of the first item inside the data block. */
    offset: { offset: 8, size: 4 },
    bucket_size: { offset: 12, size: 4 },
    name: { offset: 16, size: 0, stride: 1 },
  },
} as const satisfies AbiStruct;

export const KVM_STATS_TYPE_SHIFT = 0;
export const KVM_STATS_TYPE_MASK = 0xf << KVM_STATS_TYPE_SHIFT;
export const KVM_STATS_UNIT_SHIFT = 4;
export const KVM_STATS_UNIT_MASK = 0xf << KVM_STATS_UNIT_SHIFT;
export const KVM_STATS_BASE_SHIFT = 8;
export const KVM_STATS_BASE_MASK = 0xf << KVM_STATS_BASE_SHIFT;

/** Descriptor flag values already shifted into place (KVM_STATS_TYPE_*). */
export const KvmStatsType = {
  CUMULATIVE: 0x0,
  INSTANT: 0x1,
  PEAK: 0x2,
  LINEAR_HIST: 0x3,
  LOG_HIST: 0x4,
} as const;

/** KVM_STATS_UNIT_*, shifted into place. */
export const KvmStatsUnit = {
  NONE: 0x00,
  BYTES: 0x10,
  SECONDS: 0x20,
  CYCLES: 0x30,
  BOOLEAN: 0x40,
} as const;

/** KVM_STATS_BASE_*, shifted into place. */
export const KvmStatsBase = {
  POW10: 0x000,
  POW2: 0x100,
} as const;
