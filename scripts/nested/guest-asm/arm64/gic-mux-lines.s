// Device lines and irqfds while the muxing GIC's userspace model holds the GIC
// (packages/dev-gic/test/gic-mux-lines.nested-arm64.test.ts). vCPU 0 programs the in-kernel
// vGICv3 and the PL011's receive interrupt, masks every priority, reports, and waits for the
// host's go flag — meanwhile the host switches the vCPU out, raises the lines, and switches it
// back. After the go it unmasks and takes whatever is pending by polling ICC_IAR1_EL1 (DAIF
// stays masked: no vectors), recording each INTID; for the UART's it reads UARTDR first, which
// empties the receive FIFO and so lowers the UART's line, then EOIs.
//
//   SPI 46  "U": the PL011's (spi 14), group 1, priority 0x70, routed to vCPU 0, enabled;
//           edge or level as the host says in the report block (+72: 0 level, 2 edge)
//   SPI 47  "F": an irqfd's (GSI 15), group 1, priority 0x80, edge, routed to vCPU 0, enabled
//   PL011 UARTIMSC = RXIM (bit 4); ICC_PMR_EL1 0x30 (masks both), ICC_BPR1_EL1 3, ICC_IGRPEN1_EL1 1
//
// Report block at 0x40200000: +0 programmed (1), +8 go flag (host), +16 INTIDs taken,
// +24 … the INTIDs (8 bytes each, at most 4), +64 done (1), +72 U's ICFGR field (host).
// Ends with PSCI SYSTEM_OFF.
    .text
    .global _start
_start:
    movz x20, #0x4020, lsl #16      // report block
    movz x21, #0x0800, lsl #16      // GICD
    movz x22, #0x080a, lsl #16      // GICR of vCPU 0 (RD_base)
    movz x23, #0x0900, lsl #16      // PL011

    mov  w1, #0x12                  // GICD_CTLR: ARE (bit 4), EnableGrp1 (bit 1)
    str  w1, [x21]
    str  wzr, [x22, #0x14]          // GICR_WAKER: ProcessorSleep clear
    mov  w1, #0xc000                // INTIDs 46, 47 in group 1 (GICD_IGROUPR1)
    str  w1, [x21, #0x84]
    movz w1, #0x8070, lsl #16       // GICD_IPRIORITYR11: 46 → 0x70, 47 → 0x80
    str  w1, [x21, #0x42c]
    ldr  x1, [x20, #72]             // GICD_ICFGR2: 46 as the host says (field 14), 47 edge (field 15)
    lsl  w1, w1, #28
    orr  w1, w1, #0x80000000
    str  w1, [x21, #0xc08]
    add  x2, x21, #0x6000           // GICD_IROUTER<n> at 0x6000 + 8n
    str  xzr, [x2, #(8 * 46)]       // → Aff 0.0.0.0 (vCPU 0)
    str  xzr, [x2, #(8 * 47)]
    mov  w1, #0xc000                // enable 46, 47 (GICD_ISENABLER1)
    str  w1, [x21, #0x104]
    mov  w1, #0x10                  // UARTIMSC: RXIM
    str  w1, [x23, #0x38]
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
1:  ldr  x1, [x20, #8]              // wait for the go flag (the host switches and raises lines here)
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
    cmp  x0, #46                    // the UART's: read its byte (the line drops) before the EOI
    b.ne 6f
    ldr  w6, [x23]
6:  msr  icc_eoir1_el1, x0
    isb
    mov  x5, #200                   // then: 200 more reads for another (each may trap: keep it short)
    b    2b

4:  mov  x1, #1
    str  x1, [x20, #64]             // done
    movz w0, #0x0008
    movk w0, #0x8400, lsl #16       // PSCI_0_2_FN_SYSTEM_OFF
    hvc  #0
7:  b    7b
