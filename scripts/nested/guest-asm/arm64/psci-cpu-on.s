// Two vCPUs (packages/arch-arm64/test/machine.nested-arm64.test.ts). vCPU 0 starts here; vCPU 1
// is powered off until vCPU 0's PSCI CPU_ON, which KVM handles in the kernel. vCPU 1 prints '1'
// on the PL011, keeps its context id and MPIDR in x20/x21 and raises a flag; vCPU 0 waits for
// the flag and calls SYSTEM_OFF. With the MMU off both access memory as Device memory, so the
// flag needs no cache maintenance between them.
    .text
    .global _start
_start:
    adr  x2, secondary          // entry point
    movz x3, #0xc0de            // context id: vCPU 1 finds it in x0
    movz x0, #0x0003
    movk x0, #0xc400, lsl #16   // PSCI_0_2_FN64_CPU_ON
    mov  x1, #1                 // target MPIDR: Aff0 = 1
    hvc  #0
    mov  x19, x0                // PSCI's answer, for the test
    adr  x4, flag
1:  ldr  x5, [x4]
    cbz  x5, 1b
    movz w0, #0x0008
    movk w0, #0x8400, lsl #16   // PSCI_0_2_FN_SYSTEM_OFF
    hvc  #0
2:  b    2b

secondary:
    mov  x20, x0
    mrs  x21, mpidr_el1
    movz x6, #0x0900, lsl #16   // PL011 data register (ARM64_LAYOUT.pl011)
    mov  w7, #'1'
    str  w7, [x6]
    adr  x4, flag
    mov  x5, #1
    str  x5, [x4]
3:  wfi
    b    3b

    .balign 8
flag:
    .quad 0
