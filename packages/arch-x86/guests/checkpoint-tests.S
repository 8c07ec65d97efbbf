# checkpoint-tests — a long computation for the checkpoint suites: state lives in memory, in
# general registers and in SSE registers across the points where the host stops it.
#
# Contract
#   mode     64-bit long mode, CPL0 (longModeSetup({ cpl: 0 })): it sets CR4.OSFXSR|OSXMMEXCPT
#            itself, so that the control-register state is the guest's own and must survive a
#            checkpoint. Load 0x8000, rip = checksum_rounds (= _start).
#   in       rdi = buffer (identity-mapped, 16-byte aligned), rsi = its length (a multiple of 16,
#            ≥ 16), rcx = rounds (≥ 1), rdx = seed.
#   does     writes the seed's low byte to the UART scratch register (port 0x3ff, COM1 + 7), then
#            runs `rounds` rounds. A round walks the buffer in 16-byte blocks: an LCG step on r8
#            (Knuth's MMIX constants) xored into the block's first qword, r9 = rol(r9 ^ qword0,
#            13) + qword1, xmm0 += block (paddq), xmm1 ^= xmm0 with its halves swapped, xmm1 +=
#            xmm0. After each round one `out 0x10, al` (a port with no device: one userspace exit
#            per round — the host's stop points). Then it reads the scratch register back and
#            folds everything into one value:
#            result = r9 ^ (scr << 56) ^ xmm0.lo ^ xmm0.hi ^ xmm1.lo ^ xmm1.hi.
#   out      the result in [rdi + rsi] (8 bytes after the buffer) and in rbx; its low 32 bits in
#            the exit device's result register (port 0xf8).
#   end      `out 0xf4, al` with al = 0 (power-off, status 0), then `jmp .` if resumed.

        .intel_syntax noprefix
        .code64

        .set STOP_PORT, 0x10
        .set EXIT_PORT, 0xf4
        .set RESULT_PORT, 0xf8
        .set UART_SCR, 0x3ff
        .set CR4_OSFXSR_OSXMMEXCPT, 0x600

        .text
        .globl _start, checksum_rounds
_start:
checksum_rounds:
        mov     rax, cr4
        or      rax, CR4_OSFXSR_OSXMMEXCPT
        mov     cr4, rax
        mov     r8, rdx                     # LCG state
        mov     r9, rdx                     # running hash
        mov     r10, rcx                    # rounds left
        mov     al, dl
        mov     dx, UART_SCR
        out     dx, al
        pxor    xmm0, xmm0
        pxor    xmm1, xmm1
        movabs  r11, 6364136223846793005
        movabs  r12, 1442695040888963407
round:
        mov     rbx, rdi
        mov     rcx, rsi
        shr     rcx, 4                      # blocks
block:
        imul    r8, r11
        add     r8, r12
        xor     qword ptr [rbx], r8
        mov     rax, qword ptr [rbx]
        xor     r9, rax
        rol     r9, 13
        add     r9, qword ptr [rbx + 8]
        paddq   xmm0, xmmword ptr [rbx]
        pshufd  xmm2, xmm0, 0x4e
        pxor    xmm1, xmm2
        paddq   xmm1, xmm0
        add     rbx, 16
        dec     rcx
        jnz     block
        out     STOP_PORT, al
        dec     r10
        jnz     round

        mov     dx, UART_SCR
        in      al, dx
        movzx   rax, al
        shl     rax, 56
        xor     r9, rax
        movq    rax, xmm0
        xor     r9, rax
        pshufd  xmm2, xmm0, 0x4e
        movq    rax, xmm2
        xor     r9, rax
        movq    rax, xmm1
        xor     r9, rax
        pshufd  xmm2, xmm1, 0x4e
        movq    rax, xmm2
        xor     r9, rax
        mov     qword ptr [rdi + rsi], r9
        mov     rbx, r9
        mov     eax, r9d
        out     RESULT_PORT, eax
        xor     eax, eax
        out     EXIT_PORT, al
        jmp     .
