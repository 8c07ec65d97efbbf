// Reports CNTFRQ_EL0 once (a write at x0 + 8), then CNTVCT_EL0 on every write at x0
// (packages/arch-arm64/test/cpu.nested-arm64.test.ts: the virtual counter across pauses).
    .text
    .global _start
_start:
    mrs  x1, cntfrq_el0
    str  x1, [x0, #8]
1:  isb
    mrs  x1, cntvct_el0
    str  x1, [x0]
    b    1b
