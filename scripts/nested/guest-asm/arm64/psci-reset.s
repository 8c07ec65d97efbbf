// PSCI SYSTEM_RESET: KVM reports it as KVM_EXIT_SYSTEM_EVENT with type RESET
// (packages/arch-arm64/test/cpu.nested-arm64.test.ts).
    .text
    .global _start
_start:
    movz w0, #0x0009
    movk w0, #0x8400, lsl #16   // PSCI_0_2_FN_SYSTEM_RESET
    hvc  #0
1:  b    1b
