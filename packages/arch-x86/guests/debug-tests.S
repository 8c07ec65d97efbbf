# debug-tests — 64-bit scenarios for the guest-debug suite (guest-debug.kvm.test.ts).
#
# Contract (all scenarios)
#   mode     64-bit long mode at CPL0 (longModeSetup({ cpl: 0 })), identity-mapped low memory.
#   load     0x8000 (GUEST_LAYOUT.code). Start with rip = the scenario's symbol; `_start` is
#            `step_loop`. The labels inside a scenario are the addresses the suite expects the
#            vCPU to stop at, so every one of them is global.
#   end      `out 0xf4, al` with al = 0 (exit status 0; rax is clobbered), then `jmp .`.
#
# Scenarios
#   step_loop    in: rcx = n ≥ 1. rbx ← n + (n-1) + … + 1 with `add; dec; jnz`:
#                step_loop_add, step_loop_dec, step_loop_jnz in the loop, step_loop_done after it.
#   step_io      `mov al, 1` (step_io), `out 0x10, al` (step_io_out1), `mov al, 2` (step_io_mov2),
#                `out 0x10, al` (step_io_out2), then the exit (step_io_done): single steps over
#                port I/O, which KVM completes itself.
#   watch_rw     rax ← 0x1122334455667788; rbx ← [watch_var] (at watch_read, a read), then
#                [watch_var] ← rax (at watch_after_read, a write), then r8 ← [watch_var]
#                (at watch_after_write, a read), then the exit (watch_done). watch_var is an
#                8-byte aligned qword, initially 0.
#   bp_loop      in: rcx = n ≥ 1. n times: inc rbx (bp_loop_top); r9 += rbx (bp_target); dec rcx;
#                jnz. Ends with rbx = n, r9 = n(n+1)/2 (rbx and r9 start at 0).
#   guest_int3   r8 ← 1; `int3` (guest_int3_at); r9 ← 2 (guest_int3_after); the exit. With no
#                IDT the int3 would triple-fault unless the host catches it.
#   load_qword   in: rdi = a virtual address. r8 ← qword [rdi]; the exit.

        .intel_syntax noprefix
        .code64

        .set TEST_PORT_OUT, 0x10
        .set EXIT_PORT, 0xf4

        .macro EXIT_OK
        xor     eax, eax
        out     EXIT_PORT, al
        jmp     .
        .endm

        .text
        .globl _start, step_loop, step_loop_add, step_loop_dec, step_loop_jnz, step_loop_done
_start:
step_loop:
        xor     ebx, ebx
step_loop_add:
        add     rbx, rcx
step_loop_dec:
        dec     rcx
step_loop_jnz:
        jnz     step_loop_add
step_loop_done:
        EXIT_OK

        .globl step_io, step_io_out1, step_io_mov2, step_io_out2, step_io_done
step_io:
        mov     al, 1
step_io_out1:
        out     TEST_PORT_OUT, al
step_io_mov2:
        mov     al, 2
step_io_out2:
        out     TEST_PORT_OUT, al
step_io_done:
        EXIT_OK

        .globl watch_rw, watch_read, watch_after_read, watch_after_write, watch_done
watch_rw:
        mov     rax, 0x1122334455667788
watch_read:
        mov     rbx, qword ptr [rip + watch_var]
watch_after_read:
        mov     qword ptr [rip + watch_var], rax
watch_after_write:
        mov     r8, qword ptr [rip + watch_var]
watch_done:
        EXIT_OK

        .globl bp_loop, bp_loop_top, bp_target
bp_loop:
        xor     ebx, ebx
        xor     r9d, r9d
bp_loop_top:
        inc     rbx
bp_target:
        add     r9, rbx
        dec     rcx
        jnz     bp_loop_top
        EXIT_OK

        .globl guest_int3, guest_int3_at, guest_int3_after
guest_int3:
        mov     r8, 1
guest_int3_at:
        int3
guest_int3_after:
        mov     r9, 2
        EXIT_OK

        .globl load_qword
load_qword:
        mov     r8, qword ptr [rdi]
        EXIT_OK

        .balign 8
        .globl watch_var
watch_var:
        .quad   0
