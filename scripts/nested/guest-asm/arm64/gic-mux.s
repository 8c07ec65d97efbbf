// The muxing GIC (packages/dev-gic/test/gic-mux.nested-arm64.test.ts). vCPU 0 programs the
// in-kernel vGICv3 through its distributor and CPU interface, masks every priority with the
// priority mask, reports, and waits for the host's go flag — meanwhile the host pends SPIs,
// hands the GIC to the userspace model and back (or checkpoints). After the go it unmasks and
// takes whatever is pending by polling ICC_IAR1_EL1 (DAIF stays masked: no vectors), recording
// each INTID: it waits up to 20000 reads for the first and then 200 reads for each next one
// (an interrupt pending at entry is there at the first read; a read may trap, which is slow in
// the nested tier). A pending A would be taken before B: it has the higher priority.
//
//   SPI 44  "A": group 1, priority 0x40, edge, enabled, routed to vCPU 0
//   SPI 45  "B": group 1, priority 0x80, edge, enabled, routed to vCPU 0 (A would win if both were pending)
//   ICC_PMR_EL1 0x30 (masks both), ICC_BPR1_EL1 3, ICC_IGRPEN1_EL1 1
//
// Report block at 0x40200000: +0 programmed (1), +8 go flag (host), +16 INTIDs taken,
// +24 … the INTIDs (8 bytes each, at most 4), +64 done (1). Ends with PSCI SYSTEM_OFF.
    .include "gicv3-guest.inc"
    .text
    .global _start
_start:
    gicv3_guest_start
    mov  w1, #0x3000                // INTIDs 44, 45 in group 1 (GICD_IGROUPR1)
    str  w1, [x21, #0x84]
    mov  w1, #0x8040                // GICD_IPRIORITYR11: 44 → 0x40, 45 → 0x80
    str  w1, [x21, #0x42c]
    movz w1, #0x0a00, lsl #16       // GICD_ICFGR2: INTIDs 44 and 45 edge (fields 12, 13 = 0b10)
    str  w1, [x21, #0xc08]
    add  x2, x21, #0x6000           // GICD_IROUTER<n> at 0x6000 + 8n
    str  xzr, [x2, #(8 * 44)]       // → Aff 0.0.0.0 (vCPU 0)
    str  xzr, [x2, #(8 * 45)]
    mov  w1, #0x3000                // enable 44, 45 (GICD_ISENABLER1)
    str  w1, [x21, #0x104]
    dsb  sy

    gicv3_cpu_if_masked
    report_programmed_wait_go       // the host switches and checkpoints meanwhile
    mov  x3, #0                     // INTIDs taken
    mov  x5, #20000                 // first: wait up to 20000 reads for an interrupt
2:  mrs  x0, icc_iar1_el1
    cmp  x0, #1023
    b.ne 3f
    subs x5, x5, #1
    b.ne 2b
    b    4f
3:  record_intid
    msr  icc_eoir1_el1, x0
    isb
    mov  x5, #200                   // then: 200 more reads for another (each may trap: keep it short)
    b    2b

4:  report_done_power_off
