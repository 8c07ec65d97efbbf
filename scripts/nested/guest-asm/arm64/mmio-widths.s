// One MMIO write and one MMIO read of each width at x0 (packages/arch-arm64/test/cpu.nested-arm64.test.ts),
// then PSCI SYSTEM_OFF. With the MMU off every access is Device memory: offsets are aligned to
// their width, and each access is a single-register load or store, so KVM decodes it.
    .text
    .global _start
_start:
    strb w1, [x0]
    strh w2, [x0, #2]
    str  w3, [x0, #4]
    str  x4, [x0, #8]
    ldrb w5, [x0, #16]
    ldrh w6, [x0, #18]
    ldr  w7, [x0, #20]
    ldr  x8, [x0, #24]
    movz w0, #0x0008
    movk w0, #0x8400, lsl #16   // PSCI_0_2_FN_SYSTEM_OFF
    hvc  #0
1:  b    1b
