# switch-tests — a loop of plain integer instructions for the CPU-switching suites: KVM runs
# part of it, the example interpreter CPU (packages/arch-x86/examples/interpreter-cpu) part, KVM
# the rest, and the result must equal an uninterrupted run's. Every instruction here is one the
# interpreter implements: mov (imm, reg, memory), add/sub/xor/cmp (reg, imm8, imm32, memory),
# inc/dec, jcc/jmp rel8, loop, out imm8.
#
# Contract
#   mode     64-bit long mode, CPL0 (longModeSetup({ cpl: 0 })). Load 0x8000, rip = switch_loop
#            (= _start).
#   in       rdi = scratch (identity-mapped, 16 bytes), rcx = iterations (≥ 1).
#   does     [rdi + 8] := rcx; then per iteration, with x (rbx) = 1, acc (rax) = 0, c (r9) = 0,
#            s (r10) = -5 and K = 0x9e3779b97f4a7c15 (rdx):
#              x += K (mod 2^64); if it carried, c += 1
#              t = x - acc; acc ^= t; acc += 0x7f; acc -= [rdi + 8]
#              if t <u K: s += 3 else s -= 1
#              if s >=s 0: s -= 0x1234
#              [rdi] := acc
#   out      result = acc ^ c + s (mod 2^64) in [rdi] and rbx; its low 32 bits in the exit
#            device's result register (port 0xf8).
#   end      `out 0xf4, al` with al = 0 (power-off, status 0), then `jmp .` if resumed.

        .intel_syntax noprefix
        .code64

        .set EXIT_PORT, 0xf4
        .set RESULT_PORT, 0xf8

        .text
        .globl _start, switch_loop, loop_top, loop_end
_start:
switch_loop:
        mov     qword ptr [rdi + 8], rcx
        xor     eax, eax                    # acc
        mov     ebx, 1                      # x
        movabs  rdx, 0x9e3779b97f4a7c15     # K
        xor     r9d, r9d                    # carries
        mov     r10, -5                     # s
loop_top:
        add     rbx, rdx
        jnc     1f
        inc     r9
1:      mov     r11, rbx
        sub     r11, rax
        xor     rax, r11
        add     rax, 0x7f
        sub     rax, qword ptr [rdi + 8]
        cmp     r11, rdx
        jb      2f
        dec     r10
        jmp     3f
2:      add     r10, 3
3:      cmp     r10, 0
        jl      4f
        sub     r10, 0x1234
4:      mov     qword ptr [rdi], rax
        loop    loop_top
loop_end:
        xor     rax, r9
        add     rax, r10
        mov     qword ptr [rdi], rax
        mov     rbx, rax
        out     RESULT_PORT, eax
        xor     eax, eax
        out     EXIT_PORT, al
        jmp     .
