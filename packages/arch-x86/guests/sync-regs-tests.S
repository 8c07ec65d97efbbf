# sync-regs-tests — scenarios for sync-regs.kvm.test.ts: registers read by the host after an exit
# (from kvm_run with KVM_CAP_SYNC_REGS) and written by it before a resume.
#
# Contract (all scenarios)
#   mode     64-bit long mode, longModeSetup({ cpl: 0 }) (rdmsr needs CPL0), load 0x8000,
#            rip = the scenario's symbol.
#   stop     `out 0x10, al`: a userspace exit where the host reads or writes registers.
#   end      `out 0xf4, al` with al = 0 (the exit port), then `jmp .` if resumed.
#
# Scenarios
#   regs_pattern  in: nothing. Loads a distinct pattern into rax, rbx, rcx, rdx, rsi, rdi, rbp
#                 and r8..r15 (rsp is left as set up); stop; then 8 rounds of `add rbx, rcx`
#                 with rcx counting 8 → 1 and a stop after each add (9 stops in all); end.
#   observe       in: rdi = output (4 qwords). stop (the host writes rbx, rsi and FS.base);
#                 [rdi] = rbx, [rdi+8] = rsi, [rdi+16] = IA32_FS_BASE (rdmsr 0xc0000100);
#                 stop (the host writes rbx again, inside the exit); [rdi+24] = rbx; end.

        .intel_syntax noprefix
        .code64

        .set STOP_PORT, 0x10
        .set EXIT_PORT, 0xf4
        .set MSR_FS_BASE, 0xc0000100

        .macro STOP
        out     STOP_PORT, al
        .endm

        .macro END
        xor     eax, eax
        out     EXIT_PORT, al
        jmp     .
        .endm

        .text
        .globl _start, regs_pattern, observe
_start:
regs_pattern:
        mov     rax, 0x1111111111111111
        mov     rbx, 0x2222222222222222
        mov     rcx, 8
        mov     rdx, 0x4444444444444444
        mov     rsi, 0x5555555555555555
        mov     rdi, 0x6666666666666666
        mov     rbp, 0x7777777777777777
        mov     r8, 0x8888888888888888
        mov     r9, 0x9999999999999999
        mov     r10, 0xaaaaaaaaaaaaaaaa
        mov     r11, 0xbbbbbbbbbbbbbbbb
        mov     r12, 0xcccccccccccccccc
        mov     r13, 0xdddddddddddddddd
        mov     r14, 0xeeeeeeeeeeeeeeee
        mov     r15, 0x0123456789abcdef
        STOP
1:      add     rbx, rcx
        STOP
        dec     rcx
        jnz     1b
        END

observe:
        STOP
        mov     [rdi], rbx
        mov     [rdi + 8], rsi
        mov     ecx, MSR_FS_BASE
        rdmsr
        shl     rdx, 32
        or      rax, rdx
        mov     [rdi + 16], rax
        STOP
        mov     [rdi + 24], rbx
        END
