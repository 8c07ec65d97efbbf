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
    .text
    .global _start
_start:
    movz x20, #0x4020, lsl #16      // report block
    movz x21, #0x0800, lsl #16      // GICD
    movz x22, #0x080a, lsl #16      // GICR of vCPU 0 (RD_base)

    mov  w1, #0x12                  // GICD_CTLR: ARE (bit 4), EnableGrp1 (bit 1)
    str  w1, [x21]
    str  wzr, [x22, #0x14]          // GICR_WAKER: ProcessorSleep clear
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

    mov  x1, #0x30
    msr  icc_pmr_el1, x1
    mov  x1, #3
    msr  icc_bpr1_el1, x1
    mov  x1, #1
    msr  icc_igrpen1_el1, x1
    isb

    mov  x1, #1
    str  x1, [x20]                  // programmed
1:  ldr  x1, [x20, #8]              // wait for the go flag (the host switches and checkpoints here)
    cbz  x1, 1b

    mov  x1, #0xff                  // unmask every priority
    isb
    msr  icc_pmr_el1, x1
    isb
    mov  x3, #0                     // INTIDs taken
    mov  x5, #20000                 // first: wait up to 20000 reads for an interrupt
2:  mrs  x0, icc_iar1_el1
    cmp  x0, #1023
    b.ne 3f
    subs x5, x5, #1
    b.ne 2b
    b    4f
3:  cmp  x3, #4                     // record at most 4
    b.hs 5f
    add  x4, x20, #24
    str  x0, [x4, x3, lsl #3]
5:  add  x3, x3, #1
    str  x3, [x20, #16]
    msr  icc_eoir1_el1, x0
    isb
    mov  x5, #200                   // then: 200 more reads for another (each may trap: keep it short)
    b    2b

4:  mov  x1, #1
    str  x1, [x20, #64]             // done
    movz w0, #0x0008
    movk w0, #0x8400, lsl #16       // PSCI_0_2_FN_SYSTEM_OFF
    hvc  #0
6:  b    6b
