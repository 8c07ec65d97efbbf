// The in-kernel vGICv3 across a checkpoint (packages/dev-gic/test/vgic-checkpoint.nested-arm64.test.ts).
// vCPU 0 programs the GIC through its distributor and its CPU interface, masks everything
// with the priority mask, reports, and waits for the host's go flag; the host pends SPIs
// meanwhile and checkpoints. After the go it unmasks and takes what is pending by polling
// ICC_IAR1_EL1 (DAIF stays masked: no vectors needed), recording each INTID.
//
//   SPI 40  group 1, priority 0x80, edge,  enabled, routed to vCPU 0
//   SPI 41  group 1, priority 0x40, level, enabled, routed to vCPU 0 (taken first: higher priority)
//   SPI 42  group 1, priority 0xa0, level, enabled, routed to vCPU 1 (powered off: never taken)
//   ICC_PMR_EL1 0x30 (masks all three), ICC_BPR1_EL1 3, ICC_IGRPEN1_EL1 1
//
// Report block at 0x40200000: +0 programmed (1), +8 go flag (host), +16 INTIDs taken,
// +24 … the INTIDs (8 bytes each), +64 done (1). Ends with PSCI SYSTEM_OFF.
    .include "gicv3-guest.inc"
    .text
    .global _start
_start:
    gicv3_guest_start
    mov  w1, #0x700                 // INTIDs 40–42 in group 1 (GICD_IGROUPR1)
    str  w1, [x21, #0x84]
    movz w1, #0x4080                // GICD_IPRIORITYR10: 40 → 0x80, 41 → 0x40, 42 → 0xa0, 43 → 0x20
    movk w1, #0x20a0, lsl #16
    str  w1, [x21, #0x428]
    mov  w1, #(2 << 16)             // GICD_ICFGR2: INTID 40 edge (field 8 = 0b10), 41 and 42 level
    str  w1, [x21, #0xc08]
    add  x2, x21, #0x6000           // GICD_IROUTER<n> at 0x6000 + 8n
    str  xzr, [x2, #(8 * 40)]       // 40 → Aff 0.0.0.0 (vCPU 0)
    str  xzr, [x2, #(8 * 41)]
    mov  x1, #1
    str  x1, [x2, #(8 * 42)]        // 42 → Aff 0.0.0.1 (vCPU 1)
    mov  w1, #0x700                 // enable 40–42 (GICD_ISENABLER1)
    str  w1, [x21, #0x104]
    dsb  sy

    gicv3_cpu_if_masked
    report_programmed_wait_go       // the host stops and checkpoints meanwhile
    mov  x3, #0                     // INTIDs taken
2:  mrs  x0, icc_iar1_el1
    cmp  x0, #1023                  // spurious: nothing deliverable yet
    b.eq 2b
    record_intid
    cmp  x0, #41                    // a level SPI whose line stays high would come back after
    b.ne 3f                         // EOI: disable it first (GICD_ICENABLER1)
    mov  w1, #(1 << 9)
    str  w1, [x21, #0x184]
    dsb  sy
3:  msr  icc_eoir1_el1, x0
    isb
    cmp  x3, #2
    b.lo 2b

    report_done_power_off
