// A load pair from the MMIO address in x0: a data abort without a valid syndrome, which KVM
// reports as KVM_EXIT_ARM_NISV (packages/arch-arm64/test/cpu.nested-arm64.test.ts).
    .text
    .global _start
_start:
    ldp  x1, x2, [x0]
1:  b    1b
