'use strict';
/**
 * What kind of KVM this machine's /dev/kvm is, for placing the *.kvm.test.ts suites
 * (scripts/test/run-tiers.js, .ci/run) and for jest.config.js:
 *
 *   none  /dev/kvm does not open read-write: the KVM suites run in the nested-x86 tier.
 *   pvm   it opens, and it is PVM's (kernel module kvm_pvm, no kvm_intel or kvm_amd): guest
 *         user-mode code runs natively but guest kernel-mode code is emulated (~0.3 µs per
 *         instruction, no int3, no PMU, XSAVE with FP/SSE only). The KVM suites run here, except
 *         those that need what PVM cannot do (PVM_UNFIT_SUITES), which run in nested-x86.
 *   full  hardware virtualization (kvm_intel / kvm_amd): every KVM suite runs here.
 *
 * KVMTS_HOST_KVM=none|pvm|full overrides the detection (a machine whose modules are built in).
 */
const fs = require('fs');

/**
 * The KVM suites that fail on a PVM host for want of something PVM does not offer, each with
 * what that is. They run in nested-x86 (a hardware-virtualized KVM inside QEMU) instead.
 */
const PVM_UNFIT_SUITES = {
  'packages/arch-x86/test/checkpoint.kvm.test.ts': "its CPL0 guest uses instructions PVM's kernel-mode emulator cannot emulate (KVM internal error, emulation failure)",
  'packages/arch-x86/test/cpuid.kvm.test.ts': 'it checks features PVM does not pass to guests (AVX, XSAVE beyond FP/SSE)',
  'packages/arch-x86/test/guest-debug.kvm.test.ts': "single-stepping, int3 and debug registers in guest kernel mode, which PVM's emulator does not report as hardware does",
  'packages/arch-x86/test/instruction-stops.kvm.test.ts': 'exact single-step counts across I/O and REP string instructions (PVM steps them differently)',
  'packages/arch-x86/test/interrupts.kvm.test.ts': 'NMIs and interrupt windows of a CPL0 guest with IF = 0',
  'packages/arch-x86/test/msr.kvm.test.ts': 'a CPL0 guest writing and reading back the whole serializable MSR list',
  'packages/arch-x86/test/state.kvm.test.ts': 'the TSC moved between VMs as hardware virtualization keeps it',
};

/** { kind, why }: why is a sentence for kinds other than full. */
function hostKvm(path = process.env.KVMTS_KVM_PATH || '/dev/kvm') {
  const forced = process.env.KVMTS_HOST_KVM;
  if (forced !== undefined && forced !== '') {
    if (!['none', 'pvm', 'full'].includes(forced)) throw new Error(`KVMTS_HOST_KVM=${forced}: expected none, pvm or full`);
    return { kind: forced, why: forced === 'full' ? undefined : `KVMTS_HOST_KVM=${forced}` };
  }
  try {
    fs.closeSync(fs.openSync(path, 'r+'));
  } catch (e) {
    return { kind: 'none', why: `${path} cannot be opened (${e.code || e.message})` };
  }
  const loaded = (m) => fs.existsSync(`/sys/module/${m}`);
  if (loaded('kvm_pvm') && !loaded('kvm_intel') && !loaded('kvm_amd')) {
    return { kind: 'pvm', why: `${path} is PVM's (kvm_pvm): guest kernel-mode code is emulated` };
  }
  return { kind: 'full', why: undefined };
}

module.exports = { hostKvm, PVM_UNFIT_SUITES };

// `node test-support/host-kvm.js`: prints the kind; exits 0 when /dev/kvm opens (pvm or full).
if (require.main === module) {
  const { kind, why } = hostKvm();
  process.stdout.write(`${kind}${why ? ` (${why})` : ''}\n`);
  process.exitCode = kind === 'none' ? 1 : 0;
}
