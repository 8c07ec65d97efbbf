# ckpt-gaps-tests — what checkpoints and CPU switching must carry besides registers and RAM:
# an m5op that resumes the guest while the host drains its vCPU, MSI routes and irqfds, m5op
# statistics, simulated time (ckpt-gaps.kvm.test.ts, cpu-switching-races.kvm.test.ts).
#
# Contract (all scenarios)
#   mode     64-bit long mode at CPL0, load 0x8000, rip = the scenario's symbol; msi_wait needs
#            the LAPIC page (0xfee00000) identity-mapped: boot with mapBytes = 4 GiB.
#   devices  the m5op doorbell at port 0x58 (`m5ops()`), the exit device at 0xf4/0xf8.
#   m5ops    DOORBELL func: eax ← func; out 0x58, eax (the result arrives in rax). Arguments in
#            rdi, rsi.
#   end      the result register (port 0xf8, 4 bytes), then `out 0xf4, al` with al = 0, then
#            `jmp .`.
#
# Scenarios
#   switch_once  in: rdi = scratch (identity-mapped qword). [rdi] ← 1; switchcpu m5op; at
#                `after_switch`: [rdi] ← 2; result = 2; end. A host that drains the vCPU in the
#                m5op's handler finds [rdi] = 1 and rip = after_switch.
#   m5op_loop    in: rdi = scratch. Forever: r12 += 1; [rdi] ← r12; switchcpu m5op. Between two
#                instructions [rdi] is r12 or r12 − 1.
#   io_loop      forever `out 0x12, al` (no device there: one exit each). For simulated time.
#   stats_work   m5op statistics across a checkpoint: resetstats; workbegin(1, 0);
#                workbegin(2, 0); workend(1, 0); dumpstats; checkpoint (the host ends the run
#                there and saves); workend(2, 0); dumpstats; result = 0x57; end.
#   msi_wait     irqchip 'kernel'. Installs a 256-entry IDT (every vector counts in the dword
#                `counts + 4·vector`; an exception < 32 ends the run with status 3, result = the
#                vector), enables the LAPIC (SVR = 0x1ff), sti, then the checkpoint m5op (the host
#                ends the run there, saves, restores, raises interrupts); then `hlt` until
#                counts[0x41] and counts[0x42] are both non-zero; result = 0x4142; end.

        .intel_syntax noprefix
        .code64

        .set EXIT_PORT, 0xf4
        .set RESULT_PORT, 0xf8
        .set DOORBELL, 0x58
        .set LAPIC_SVR, 0xfee000f0
        .set LAPIC_EOI, 0xfee000b0
        .set F_RESETSTATS, 0x40
        .set F_DUMPSTATS, 0x41
        .set F_CHECKPOINT, 0x43
        .set F_SWITCHCPU, 0x52
        .set F_WORKBEGIN, 0x5a
        .set F_WORKEND, 0x5b

        .macro DOORBELL func
        mov     eax, \func
        out     DOORBELL, eax
        .endm

        .macro FINISH result
        mov     eax, \result
        out     RESULT_PORT, eax
        xor     eax, eax
        out     EXIT_PORT, al
        jmp     .
        .endm

        .macro HLT_UNTIL vector
        lea     rbx, [rip + counts + 4 * \vector]
1:      cmp     dword ptr [rbx], 0
        jne     2f
        hlt
        jmp     1b
2:
        .endm

        .text
        .globl _start, switch_once, after_switch, m5op_loop, io_loop, stats_work, msi_wait, counts
_start:
switch_once:
        mov     qword ptr [rdi], 1
        DOORBELL F_SWITCHCPU
after_switch:
        mov     qword ptr [rdi], 2
        FINISH  2

m5op_loop:
        xor     r12d, r12d
1:      inc     r12
        mov     qword ptr [rdi], r12
        DOORBELL F_SWITCHCPU
        jmp     1b

io_loop:
        out     0x12, al
        jmp     io_loop

stats_work:
        xor     edi, edi
        xor     esi, esi
        DOORBELL F_RESETSTATS
        mov     edi, 1
        xor     esi, esi
        DOORBELL F_WORKBEGIN
        mov     edi, 2
        xor     esi, esi
        DOORBELL F_WORKBEGIN
        mov     edi, 1
        xor     esi, esi
        DOORBELL F_WORKEND
        xor     edi, edi
        xor     esi, esi
        DOORBELL F_DUMPSTATS
        xor     edi, edi
        xor     esi, esi
        DOORBELL F_CHECKPOINT
        mov     edi, 2
        xor     esi, esi
        DOORBELL F_WORKEND
        xor     edi, edi
        xor     esi, esi
        DOORBELL F_DUMPSTATS
        FINISH  0x57

msi_wait:
        call    install_idt
        mov     rdx, LAPIC_SVR
        mov     dword ptr [rdx], 0x1ff
        sti
        xor     edi, edi
        xor     esi, esi
        DOORBELL F_CHECKPOINT
        HLT_UNTIL 0x41
        HLT_UNTIL 0x42
        cli
        FINISH  0x4142

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

# The stub pushed the vector above the interrupt frame. An exception ends the run (status 3).
isr_common:
        push    rax
        push    rdx
        mov     eax, dword ptr [rsp + 16]
        lea     rdx, [rip + counts]
        lock inc dword ptr [rdx + rax * 4]
        cmp     eax, 32
        jae     1f
        out     RESULT_PORT, eax
        mov     al, 3
        out     EXIT_PORT, al
        jmp     .
1:      mov     rdx, LAPIC_EOI
        mov     dword ptr [rdx], 0
        pop     rdx
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
