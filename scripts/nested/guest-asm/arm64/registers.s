// Register round trip (packages/arch-arm64/test/cpu.nested-arm64.test.ts). The test sets every
// register class through KVM_SET_ONE_REG, x0 = an MMIO address. Exit 1 lets it read back what
// KVM holds; then the guest copies what the host set into x1–x15, sets V2–V4 and TPIDR_EL0
// itself, reads the virtual counter into x20 and exits again.
    .text
    .global _start
_start:
    str  xzr, [x0]              // exit 1
    mrs  x1, tpidr_el0
    mrs  x2, tpidr_el1
    mrs  x3, tpidrro_el0
    mrs  x4, contextidr_el1
    mrs  x5, vbar_el1
    mrs  x6, cntv_cval_el0      // set through KVM_REG_ARM_TIMER_CVAL, the id with CNTVCT's encoding
    mrs  x7, fpcr
    mrs  x8, fpsr
    mov  x9, v1.d[0]
    mov  x10, v1.d[1]
    mov  x11, sp                // SP_EL1: the guest runs at EL1h
    mrs  x12, sp_el0
    mrs  x13, elr_el1
    mrs  x14, spsr_el1
    mrs  x15, nzcv
    movi v2.16b, #0x5a
    mov  v3.d[0], x16
    mov  v3.d[1], x17
    fmov d4, x18                // also clears V4[127:64]
    msr  tpidr_el0, x19
    isb
    mrs  x20, cntvct_el0
    str  xzr, [x0, #8]          // exit 2
1:  b    1b
