# interrupt-tests — 64-bit CPL0 scenarios for the interrupt suite (interrupts.kvm.test.ts).
#
# Contract (all scenarios)
#   mode     64-bit long mode at CPL0, load 0x8000, rip = the scenario's symbol; the in-kernel
#            scenarios need the LAPIC page (0xfee00000) identity-mapped: boot with mapBytes = 4 GiB.
#   IDT      every scenario installs a 256-entry IDT. Every vector's handler adds 1 to the dword
#            `counts + 4·vector` and stores the vector in `last_vector`; with `lapic_eoi` ≠ 0 it
#            then writes the LAPIC's EOI register. An exception (vector < 32 other than NMI, 2)
#            ends the run: result register = the vector, exit status 3.
#   phases   a scenario that needs the host to act stores the phase number in the dword `phase`
#            and waits (hlt, or pause with IF = 0) for the vector it expects; the host polls
#            `phase` in guest memory and acts.
#   end      the result register (port 0xf8, 4 bytes) = the scenario's summary, then `out 0xf4, al`
#            with al = 0 (status 0), then `jmp .`.
#
# Scenarios
#   kernel_irqs  irqchip 'kernel'. Enables the LAPIC (SVR = 0x1ff, LVT0 = ExtINT), initialises the
#                8259s (vectors 0x20 / 0x28, auto-EOI) with IRQ 3 and 4 unmasked, sti, then:
#                phase 1: the UART at 0x3f8 (irq 4) raises its line (MCR.OUT2, IER.THRI) → 0x24;
#                         IER = 0 drops it again
#                phase 2: host writes an irqfd bound to GSI 3 → PIC IRQ 3 → 0x23
#                phase 3: host sends KVM_SIGNAL_MSI, vector 0x40 to APIC 0 → 0x40
#                phase 4: host writes an irqfd bound to a GSI routed to the MSI vector 0x41 → 0x41
#                each waits with `hlt` until its vector's count is non-zero. result = 0x4.
#   pit_ticks    irqchip 'kernel'. in: ecx = PIT divisor (1..65535), edx = ticks to wait for (≥ 1).
#                LAPIC and 8259s as above with only IRQ 0 unmasked; PIT channel 0 in mode 2
#                (periodic) with the divisor; `sti; hlt` in a loop until `counts[0x20]` ≥ edx,
#                then cli, PIT channel 0 stopped (mode 0, never reloaded), IRQ 0 masked.
#                result = the ticks counted.
#   user_irqs    irqchip 'userspace' (line n → vector 0x20 + n on vCPU 0). No LAPIC or PIC set-up.
#                phase 1: cli; the UART (irq 4) raises its line while IF = 0; 2000 pause
#                         iterations later `counts[0x24]` must still be 0 (else result bit 31);
#                         sti delivers it through the interrupt window; IER = 0
#                phase 2: IF = 0, `pause` loop (no exits) until the host's NMI arrives (vector 2)
#                phase 3: sti; `hlt` loop until the host raises line 5 → 0x25
#                result = 0x3 (| 0x80000000 if 0x24 arrived while IF was 0).
#   user_cross   irqchip 'userspace', two vCPUs; in: edi = the vCPU's id. vCPU 0: IDT, sti,
#                phase 1, `hlt` until 0x24 arrives; result = 0x24. vCPU 1: waits (pause) for
#                phase 1, raises the UART's line (→ vector 0x24 on vCPU 0, from vCPU 1's thread),
#                then `cli; hlt` (ends its run: halted with IF = 0).

        .intel_syntax noprefix
        .code64

        .set EXIT_PORT, 0xf4
        .set RESULT_PORT, 0xf8
        .set COM1, 0x3f8
        .set LAPIC_SVR, 0xfee000f0
        .set LAPIC_LVT0, 0xfee00350
        .set LAPIC_EOI, 0xfee000b0
        .set PIC1_CMD, 0x20
        .set PIC1_DATA, 0x21
        .set PIC2_CMD, 0xa0
        .set PIC2_DATA, 0xa1
        .set PIT_CH0, 0x40
        .set PIT_CMD, 0x43
        .set VEC_TIMER, 0x20
        .set VEC_IRQ3, 0x23
        .set VEC_UART, 0x24
        .set VEC_LINE5, 0x25
        .set VEC_MSI, 0x40
        .set VEC_MSI_ROUTE, 0x41
        .set VEC_NMI, 2

        # Store the phase the host waits for.
        .macro PHASE n
        mov     dword ptr [rip + phase], \n
        .endm

        # hlt until counts[vector] != 0 (IF must be 1).
        .macro HLT_UNTIL vector
        lea     rbx, [rip + counts + 4 * \vector]
1:      cmp     dword ptr [rbx], 0
        jne     2f
        hlt
        jmp     1b
2:
        .endm

        .macro FINISH
        out     RESULT_PORT, eax
        xor     eax, eax
        out     EXIT_PORT, al
        jmp     .
        .endm

        .text
        .globl _start, kernel_irqs, pit_ticks, user_irqs, user_cross, counts, phase, last_vector, lapic_eoi

_start:
kernel_irqs:
        call    install_idt
        mov     dword ptr [rip + lapic_eoi], 1
        call    enable_lapic
        mov     bl, 0xe7                    # IRQ 3 and 4 unmasked
        call    init_pics
        sti

        PHASE   1
        mov     dx, COM1 + 4                # MCR.OUT2 gates the UART's output on a PC
        mov     al, 0x08
        out     dx, al
        mov     dx, COM1 + 1                # IER.THRI: the transmitter is empty, so the line rises
        mov     al, 0x02
        out     dx, al
        HLT_UNTIL VEC_UART
        mov     dx, COM1 + 1
        xor     eax, eax
        out     dx, al

        PHASE   2
        HLT_UNTIL VEC_IRQ3
        PHASE   3
        HLT_UNTIL VEC_MSI
        PHASE   4
        HLT_UNTIL VEC_MSI_ROUTE
        cli
        mov     eax, 4
        FINISH

pit_ticks:
        mov     r12d, ecx
        mov     r13d, edx
        call    install_idt
        mov     dword ptr [rip + lapic_eoi], 1
        call    enable_lapic
        mov     bl, 0xfe                    # IRQ 0 only
        call    init_pics
        mov     al, 0x34                    # channel 0, lobyte/hibyte, mode 2 (rate generator), binary
        out     PIT_CMD, al
        mov     eax, r12d
        out     PIT_CH0, al
        mov     al, ah
        out     PIT_CH0, al
        lea     rbx, [rip + counts + 4 * VEC_TIMER]
        sti
1:      hlt
        cmp     dword ptr [rbx], r13d
        jb      1b
        cli
        mov     al, 0x30                    # channel 0, mode 0: counts down once and stays quiet
        out     PIT_CMD, al
        mov     al, 0xff
        out     PIC1_DATA, al
        mov     eax, dword ptr [rbx]
        FINISH

user_irqs:
        call    install_idt
        cli
        PHASE   1
        mov     dx, COM1 + 4
        mov     al, 0x08
        out     dx, al
        mov     dx, COM1 + 1
        mov     al, 0x02
        out     dx, al                      # the line rises now, with IF = 0
        mov     ecx, 2000
1:      pause
        dec     ecx
        jnz     1b
        xor     r14d, r14d
        cmp     dword ptr [rip + counts + 4 * VEC_UART], 0
        je      2f
        mov     r14d, 0x80000000            # delivered while IF was 0: wrong
2:      sti
        nop                                 # the interrupt shadow of sti ends here
        HLT_UNTIL VEC_UART
        mov     dx, COM1 + 1
        xor     eax, eax
        out     dx, al

        cli
        PHASE   2
        lea     rbx, [rip + counts + 4 * VEC_NMI]
3:      pause
        cmp     dword ptr [rbx], 0
        je      3b

        sti
        PHASE   3
        HLT_UNTIL VEC_LINE5
        cli
        mov     eax, 3
        or      eax, r14d
        FINISH

user_cross:
        test    edi, edi
        jnz     .Lcross_ap                  # a named label: HLT_UNTIL below has its own 1: and 2:
        call    install_idt
        sti
        PHASE   1
        HLT_UNTIL VEC_UART
        cli
        mov     eax, VEC_UART
        FINISH
.Lcross_ap:
        lea     rbx, [rip + phase]
1:      pause
        cmp     dword ptr [rbx], 1
        jne     1b
        mov     dx, COM1 + 4
        mov     al, 0x08
        out     dx, al
        mov     dx, COM1 + 1
        mov     al, 0x02
        out     dx, al
        cli
        hlt
        jmp     .

# LAPIC software-enabled (spurious vector 0xff) and LINT0 in ExtINT mode, unmasked: the 8259's
# output reaches the CPU through it.
enable_lapic:
        mov     rdx, LAPIC_SVR
        mov     dword ptr [rdx], 0x1ff
        mov     rdx, LAPIC_LVT0
        mov     dword ptr [rdx], 0x700
        ret

# Both 8259s: edge-triggered, cascaded, vectors 0x20 (master) and 0x28 (slave), auto-EOI (no EOI
# writes in the handler); master mask = bl, slave fully masked.
init_pics:
        mov     al, 0x11
        out     PIC1_CMD, al
        out     PIC2_CMD, al
        mov     al, 0x20
        out     PIC1_DATA, al
        mov     al, 0x28
        out     PIC2_DATA, al
        mov     al, 0x04
        out     PIC1_DATA, al
        mov     al, 0x02
        out     PIC2_DATA, al
        mov     al, 0x03                    # 8086 mode, auto-EOI
        out     PIC1_DATA, al
        out     PIC2_DATA, al
        mov     al, bl
        out     PIC1_DATA, al
        mov     al, 0xff
        out     PIC2_DATA, al
        ret

# 256 interrupt gates, gate v → isr_stubs + 16·v.
install_idt:
        lea     rax, [rip + isr_stubs]
        lea     rdi, [rip + idt]
        mov     r10w, cs
        mov     ecx, 256
1:      mov     word ptr [rdi], ax          # offset 15:0
        mov     word ptr [rdi + 2], r10w    # selector
        mov     word ptr [rdi + 4], 0x8e00  # present, DPL 0, 64-bit interrupt gate, IST 0
        mov     rdx, rax
        shr     rdx, 16
        mov     word ptr [rdi + 6], dx      # offset 31:16
        shr     rdx, 16
        mov     dword ptr [rdi + 8], edx    # offset 63:32
        mov     dword ptr [rdi + 12], 0
        add     rax, 16
        add     rdi, 16
        dec     ecx
        jnz     1b
        lidt    [rip + idtr]
        ret

# The stack holds the vector (pushed by the stub) above the interrupt frame. No vector this suite
# expects pushes an error code; one that does is an exception, which ends the run.
isr_common:
        push    rax
        push    rdx
        mov     eax, dword ptr [rsp + 16]
        lea     rdx, [rip + counts]
        lock inc dword ptr [rdx + rax * 4]
        mov     dword ptr [rip + last_vector], eax
        cmp     eax, 32
        jae     1f
        cmp     eax, VEC_NMI
        je      1f
        out     RESULT_PORT, eax
        mov     al, 3
        out     EXIT_PORT, al
        jmp     .
1:      cmp     dword ptr [rip + lapic_eoi], 0
        je      2f
        mov     rdx, LAPIC_EOI
        mov     dword ptr [rdx], 0
2:      pop     rdx
        pop     rax
        add     rsp, 8
        iretq

        .balign 16
isr_stubs:
        .set    vec, 0
        .rept   256
        .balign 16
        push    vec
        jmp     isr_common
        .set    vec, vec + 1
        .endr

        .data
        .balign 16
idtr:
        .word   256 * 16 - 1
        .quad   idt
        .balign 16
idt:
        .zero   256 * 16
counts:
        .zero   256 * 4
phase:
        .long   0
last_vector:
        .long   0
lapic_eoi:
        .long   0
