/**
 * C macro prefix of every generic name table (key = exported table name): entry K of table
 * T corresponds to the macro `<prefix>K`. The ABI test checks each one against the installed
 * headers and fails on any exported table missing here.
 */
export const KvmAbiTablePrefixes = {
  IocDir: '_IOC_',
  KvmIoctl: 'KVM_',
  KvmCap: 'KVM_CAP_',
  KvmExitReason: 'KVM_EXIT_',
  KvmInternalError: 'KVM_INTERNAL_ERROR_',
  KvmSystemEvent: 'KVM_SYSTEM_EVENT_',
  KvmMsrExitReason: 'KVM_MSR_EXIT_REASON_',
  KvmMpState: 'KVM_MP_STATE_',
  KvmGuestDebug: 'KVM_GUESTDBG_',
  KvmStatsType: 'KVM_STATS_TYPE_',
  KvmStatsUnit: 'KVM_STATS_UNIT_',
  KvmStatsBase: 'KVM_STATS_BASE_',
} as const;
