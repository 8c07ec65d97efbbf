/**
 * ABI names kvmts uses that are newer than the oldest uapi headers it is tested against
 * (Debian 12's linux-libc-dev 6.1), keyed by C macro name, valued by the kernel release
 * that added them. The ABI test accepts a missing macro only if it is listed here AND the
 * installed headers are older than that release; with newer headers it checks the value.
 * Values were taken from upstream include/uapi/linux/kvm.h at those releases.
 */
export const KvmAbiIntroducedIn: Readonly<Record<string, string>> = {
  KVM_CAP_COUNTER_OFFSET: '6.4',
  KVM_CAP_USER_MEMORY2: '6.8',
  KVM_CAP_MEMORY_FAULT_INFO: '6.8',
  KVM_CAP_GUEST_MEMFD: '6.8',
  KVM_CAP_VM_TYPES: '6.8',
  KVM_EXIT_MEMORY_FAULT: '6.8',
};
