// Two stores to the unmapped guest-physical address in X0 (set by the test through ONE_REG);
// with the MMU off each is a stage-2 abort that KVM reports as KVM_EXIT_MMIO.
// Used by packages/arch-arm64/test/arm64-smoke.nested-arm64.test.ts.
    .text
    .global _start
_start:
    mov  x1, #0x1234
    str  x1, [x0]           // exit 1: 8 bytes 0x1234 at X0
    add  x1, x1, #1
    str  w1, [x0, #8]       // exit 2: 4 bytes 0x1235 at X0 + 8
1:  b    1b
