// The userspace GICv2 (packages/dev-gic/test/gicv2.nested-arm64.test.ts): one vCPU, no in-kernel
// GIC. The guest programs the distributor (0x0800_0000) and its CPU interface (0x0801_0000),
// installs an IRQ vector and takes three interrupts, each acknowledged through GICC_IAR and
// completed through GICC_EOIR:
//   1. SPI 40 (edge), raised by the host when the guest prints the line "R" on the PL011;
//   2. SGI 5, sent to itself through GICD_SGIR (filter "self");
//   3. SPI 33 (level), the PL011's receive interrupt, after the guest prints "U" and the host
//      types a byte; the handler reads the byte, so the UART drops its line before the EOI.
// Results for the test: x19–x21 the IAR values in order, x22 the byte received, x23 the number
// of interrupts taken, x24 GICD_TYPER, x25 GICD_ITARGETSR0 (RAZ on a one-CPU GIC). An unexpected
// exception leaves ESR_EL1/ELR_EL1 in x26/x27 and powers off.
    .text
    .global _start
_start:
    adr  x0, vectors
    msr  vbar_el1, x0
    isb
    movz x1, #0x0800, lsl #16       // GICD
    movz x2, #0x0801, lsl #16       // GICC
    movz x3, #0x0900, lsl #16       // PL011
    mov  x23, #0
    ldr  w24, [x1, #0x004]          // GICD_TYPER
    ldr  w25, [x1, #0x800]          // GICD_ITARGETSR0
    // SPI 40: priority 0xA0, target CPU 0, edge-triggered, enabled.
    mov  w4, #0xa0
    strb w4, [x1, #0x428]           // GICD_IPRIORITYR byte 40
    mov  w4, #1
    strb w4, [x1, #0x828]           // GICD_ITARGETSR byte 40
    ldr  w4, [x1, #0xc08]           // GICD_ICFGR2: INTIDs 32–47
    orr  w4, w4, #(1 << 17)         // INTID 40: Int_config[1] = edge
    str  w4, [x1, #0xc08]
    mov  w4, #(1 << 8)
    str  w4, [x1, #0x104]           // GICD_ISENABLER1: INTID 40
    // SPI 33 (the PL011): priority 0x90, level-sensitive (reset), enabled.
    mov  w4, #0x90
    strb w4, [x1, #0x421]
    mov  w4, #(1 << 1)
    str  w4, [x1, #0x104]           // GICD_ISENABLER1: INTID 33
    // SGI 5: priority 0x80 (SGIs are always enabled).
    mov  w4, #0x80
    strb w4, [x1, #0x405]
    mov  w4, #1
    str  w4, [x1, #0x000]           // GICD_CTLR: forward Group 0
    mov  w4, #0xf0
    str  w4, [x2, #0x004]           // GICC_PMR
    mov  w4, #1
    str  w4, [x2, #0x000]           // GICC_CTLR: signal Group 0 (on IRQ: FIQEn is 0)
    mov  w4, #0x50
    str  w4, [x3, #0x038]           // PL011 UARTIMSC: RX and RX timeout

    mov  w4, #'R'
    str  w4, [x3]                   // the host raises SPI 40 when it sees this line
    mov  w4, #'\n'                  // (the console reaches the host a line at a time)
    str  w4, [x3]
    mov  x5, #1
    bl   wait_for
    movz w4, #5                     // GICD_SGIR: SGI 5,
    movk w4, #0x0200, lsl #16       // TargetListFilter 2 (self)
    str  w4, [x1, #0xf00]
    mov  x5, #2
    bl   wait_for
    mov  w4, #'U'
    str  w4, [x3]                   // the host types a byte into the PL011
    mov  w4, #'\n'
    str  w4, [x3]
    mov  x5, #3
    bl   wait_for
poweroff:
    movz w0, #0x0008
    movk w0, #0x8400, lsl #16       // PSCI_0_2_FN_SYSTEM_OFF
    hvc  #0
1:  b    1b

// Sleep until x23 >= x5. IRQs stay masked while x23 is checked and WFI waits (WFI wakes on a
// pending interrupt even when masked), and are unmasked only to take the interrupt: an interrupt
// arriving between the check and the WFI cannot be missed.
wait_for:
    msr  daifset, #2
    cmp  x23, x5
    b.hs 1f
    wfi
    msr  daifclr, #2
    isb
    b    wait_for
1:  ret

irq:
    ldr  w9, [x2, #0x00c]           // GICC_IAR: acknowledge
    and  w10, w9, #0x3ff
    cmp  w10, #1023
    b.eq 9f                         // spurious: nothing to complete
    cmp  w10, #33
    b.ne 1f
    ldr  w22, [x3]                  // PL011 UARTDR: take the byte, the UART lowers its line
1:  cbnz x23, 2f
    mov  x19, x9
    b    4f
2:  cmp  x23, #1
    b.ne 3f
    mov  x20, x9
    b    4f
3:  mov  x21, x9
4:  str  w9, [x2, #0x010]           // GICC_EOIR: priority drop and deactivate
    add  x23, x23, #1
9:  eret

unexpected:
    mrs  x26, esr_el1
    mrs  x27, elr_el1
    b    poweroff

// Vector table: 16 entries of 0x80 bytes; entry 5 (0x280) is an IRQ at the current EL with SP_ELx.
    .balign 2048
vectors:
    .set entry, 0
    .rept 16
    .balign 128
    .if entry == 5
    b    irq
    .else
    b    unexpected
    .endif
    .set entry, entry + 1
    .endr
