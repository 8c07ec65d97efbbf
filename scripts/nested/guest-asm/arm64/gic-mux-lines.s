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
    .include "gicv3-guest.inc"
    .text
    .global _start
_start:
    gicv3_guest_start
    movz x23, #0x0900, lsl #16      // PL011
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

    gicv3_cpu_if_masked
    report_programmed_wait_go       // the host switches and raises lines meanwhile
    mov  x3, #0                     // INTIDs taken
    mov  x5, #20000                 // first: wait up to 20000 reads for an interrupt
2:  mrs  x0, icc_iar1_el1
    cmp  x0, #1023
    b.ne 3f
    subs x5, x5, #1
    b.ne 2b
    b    4f
3:  record_intid
    cmp  x0, #46                    // the UART's: read its byte (the line drops) before the EOI
    b.ne 6f
    ldr  w6, [x23]
6:  msr  icc_eoir1_el1, x0
    isb
    mov  x5, #200                   // then: 200 more reads for another (each may trap: keep it short)
    b    2b

4:  report_done_power_off
