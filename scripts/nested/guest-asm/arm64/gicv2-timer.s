// KVM's in-kernel virtual timer with the userspace GICv2 (packages/dev-gic/test/
// gicv2-timer.nested-arm64.test.ts): one vCPU, gic: 'none', timer: 'kernel'. KVM reports the
// timer's output level in kvm_run (KVM_CAP_ARM_USER_IRQ); kvmts passes it to the GIC model as
// PPI 27, and the model drives the vCPU's IRQ input. The guest enables PPI 27 in the distributor
// (0x0800_0000) and its CPU interface (0x0801_0000) and takes three timer interrupts, one at a
// time: it arms the virtual timer 10 ms ahead and the handler turns it off. It spins with IRQs
// unmasked for the first two and sleeps in WFI for the third.
// Results for the test: x23 the interrupts taken, x19 the first GICC_IAR value, x22 the number of
// interrupts that were not PPI 27, x24 CNTV_CTL_EL0 as the first handler found it, x20/x21
// CNTVCT_EL0 before the first arming / after the third interrupt, x6 the counter ticks per
// 10 ms. An unexpected exception leaves ESR_EL1/ELR_EL1 in x26/x27 and powers off.
    .text
    .global _start
_start:
    adr  x0, vectors
    msr  vbar_el1, x0
    isb
    movz x1, #0x0800, lsl #16       // GICD
    movz x2, #0x0801, lsl #16       // GICC
    mov  x19, #0
    mov  x22, #0
    mov  x23, #0
    mov  x24, #0
    mov  x26, #0
    // PPI 27: priority 0xA0, enabled (GICD_ISENABLER0 is banked per CPU); level-sensitive (reset).
    mov  w4, #0xa0
    strb w4, [x1, #0x41b]           // GICD_IPRIORITYR byte 27
    mov  w4, #(1 << 27)
    str  w4, [x1, #0x100]           // GICD_ISENABLER0
    mov  w4, #1
    str  w4, [x1, #0x000]           // GICD_CTLR: forward Group 0
    mov  w4, #0xf0
    str  w4, [x2, #0x004]           // GICC_PMR
    mov  w4, #1
    str  w4, [x2, #0x000]           // GICC_CTLR: signal Group 0 on IRQ
    mrs  x6, cntfrq_el0
    mov  x7, #100
    udiv x6, x6, x7                 // counter ticks in 10 ms
    mrs  x20, cntvct_el0
    msr  daifclr, #2                // ticks 1 and 2: spin with IRQs unmasked
    bl   arm_timer
1:  cmp  x23, #1
    b.lo 1b
    bl   arm_timer
1:  cmp  x23, #2
    b.lo 1b
    bl   arm_timer                  // tick 3: sleep in WFI
    mov  x5, #3
    bl   wait_for
    mrs  x21, cntvct_el0
poweroff:
    movz w0, #0x0008
    movk w0, #0x8400, lsl #16       // PSCI_0_2_FN_SYSTEM_OFF
    hvc  #0
1:  b    1b

// The virtual timer fires 10 ms from now (the handler turns it off again).
arm_timer:
    msr  cntv_tval_el0, x6
    mov  x4, #1
    msr  cntv_ctl_el0, x4           // ENABLE, interrupt not masked
    isb
    ret

// Sleep until x23 >= x5. IRQs stay masked while x23 is checked and WFI waits (WFI wakes on a
// pending interrupt even when masked), and are unmasked only to take the interrupt.
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
    cbnz x23, 1f
    mov  x19, x9
    mrs  x24, cntv_ctl_el0          // ISTATUS (bit 2) says the timer condition is met
1:  cmp  w10, #27
    b.eq 2f
    add  x22, x22, #1
    b    3f
2:  msr  cntv_ctl_el0, xzr          // timer off: its output drops now
    isb
    add  x23, x23, #1
3:  str  w9, [x2, #0x010]           // GICC_EOIR
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
