// A computation to checkpoint mid-way (packages/arch-arm64/test/checkpoint.nested-arm64.test.ts).
// Fills a 32 KiB buffer at 0x40100000, then runs 16 rounds over it, mixing every 16 bytes into
// an X accumulator (x10) and a V accumulator (v0) and writing the buffer back, so the result
// depends on registers and memory alike. Each round ends by recording CNTVCT_EL0 at
// results+32+8*(rounds left) and writing the rounds left (x11) to unclaimed MMIO at 0x0a000000:
// one exit per round. Half-way it spins until the host sets the go flag at results+24 — where
// the test stops and checkpoints it (a restored copy gets the flag from its host). At the end:
// results+0 = x10, results+8 = v0.d[0] ^ v0.d[1], results+16 = CNTFRQ_EL0; then PSCI SYSTEM_OFF.
    .text
    .global _start
_start:
    mov  x1, #(3 << 20)         // CPACR_EL1.FPEN: no FP/SIMD traps at EL1
    msr  cpacr_el1, x1
    isb
    movz x20, #0x4010, lsl #16  // buffer
    mov  x21, #0x8000           // its length
    add  x22, x20, x21          // results, right after the buffer
    movz x23, #0x0a00, lsl #16  // unclaimed MMIO
    movz x24, #0x7c15
    movk x24, #0x7f4a, lsl #16
    movk x24, #0x79b9, lsl #32
    movk x24, #0x9e37, lsl #48
    mov  x2, #0
    mov  x3, x20
1:  mul  x4, x2, x24            // word i = i * golden ^ i << 7
    eor  x4, x4, x2, lsl #7
    str  x4, [x3], #8
    add  x2, x2, #1
    cmp  x3, x22
    b.lo 1b
    mrs  x1, cntfrq_el0
    str  x1, [x22, #16]
    movz x10, #0x1234
    movk x10, #0xc0de, lsl #16
    movi v0.2d, #0
    mov  x11, #16               // rounds left
round:
    mov  x3, x20
2:  ldr  x4, [x3]
    ldr  x5, [x3, #8]
    ldr  q1, [x3]
    shl  v2.2d, v0.2d, #1       // v0 = rol(v0, 1) + 16 bytes (per 64-bit lane)
    usra v2.2d, v0.2d, #63
    add  v0.2d, v2.2d, v1.2d
    eor  x4, x4, x11            // x10 = ror(x10, 13) + (word ^ rounds left), then ^ next word
    ror  x9, x10, #13
    add  x10, x4, x9
    eor  x10, x10, x5
    add  x4, x4, x10
    str  x4, [x3]
    add  x3, x3, #16
    cmp  x3, x22
    b.lo 2b
    isb
    mrs  x12, cntvct_el0
    add  x6, x22, #32
    str  x12, [x6, x11, lsl #3]
    str  x11, [x23]             // the round's exit
    cmp  x11, #9                // half-way (8 rounds done): wait for the host's go flag, with
    b.ne 4f                     // x10, v0 and the buffer live, so the host can stop it here
    add  x6, x22, #24
5:  ldr  x9, [x6]
    cbz  x9, 5b
4:  subs x11, x11, #1
    b.ne round
    str  x10, [x22]
    umov x7, v0.d[0]
    umov x8, v0.d[1]
    eor  x7, x7, x8
    str  x7, [x22, #8]
    movz w0, #0x0008
    movk w0, #0x8400, lsl #16   // PSCI_0_2_FN_SYSTEM_OFF
    hvc  #0
3:  b    3b
