# instruction-stops: known instruction sequences for exact instruction stops and run timers
# (instruction-stops.kvm.test.ts).
#
# Contract (all scenarios)
#   mode     64-bit long mode at CPL0 (longModeSetup({ cpl: 0 })), identity-mapped low memory.
#   load     0x8000 (GUEST_LAYOUT.code); `_start` is `count_loop`. Every label the suite expects
#            the vCPU to stop at is global.
#   end      `out 0xf4, al` with al = 0 (exit status 0), then `jmp .`.
#
# Scenarios
#   count_loop  in: rcx = k ≥ 1. Instruction 1 `xor ebx, ebx`; then k times `add rbx, rcx`,
#               `dec rcx`, `jnz` (3 instructions each; rbx ends k + … + 1); then
#               `out 0x10, al` (count_out: a userspace device), `in al, 0x11` (count_in: a
#               userspace device), `mov ecx, 4` (count_rep_setup), `lea rdi, [rip + scratch]`
#               (count_rep_lea), `rep stosb` (count_rep: 4 iterations, al to scratch), then
#               `inc r8` (count_rep_done) and the exit (count_done).
#   spin        `inc r9; jmp spin` forever, no exits: only a run timer or a kick ends it.

        .intel_syntax noprefix
        .code64

        .set TEST_PORT_OUT, 0x10
        .set TEST_PORT_IN, 0x11
        .set EXIT_PORT, 0xf4

        .text
        .globl _start, count_loop, count_add, count_dec, count_jnz, count_out, count_in
        .globl count_rep_setup, count_rep_lea, count_rep, count_rep_done, count_done, spin, scratch
_start:
count_loop:
        xor     ebx, ebx
count_add:
        add     rbx, rcx
count_dec:
        dec     rcx
count_jnz:
        jnz     count_add
count_out:
        out     TEST_PORT_OUT, al
count_in:
        in      al, TEST_PORT_IN
count_rep_setup:
        mov     ecx, 4
count_rep_lea:
        lea     rdi, [rip + scratch]
count_rep:
        rep stosb
count_rep_done:
        inc     r8
count_done:
        xor     eax, eax
        out     EXIT_PORT, al
        jmp     .

spin:
        inc     r9
        jmp     spin

        .balign 16
scratch:
        .quad   0, 0
