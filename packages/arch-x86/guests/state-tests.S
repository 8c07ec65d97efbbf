# state-tests — 64-bit scenarios for the state-transfer suites (MSRs, CPUID, AVX, TSC).
#
# Contract (all scenarios)
#   mode     64-bit long mode, longModeSetup({ cpl, ... }); CPL0 where the scenario says so
#            (wrmsr, rdmsr, xsetbv and CR4 writes need it), load 0x8000, rip = the scenario's symbol.
#   stop     a 1-byte write to port 0x10 (`out 0x10, al`): the host stops there (its first
#            userspace exit) to move the vCPU's state, then lets it continue.
#   end      `out 0xf4, al` with al = 0 (the exit port), then `jmp .` if resumed.
#
# Scenarios
#   msr_roundtrip  CPL0. in: rsi = table of rcx (≥ 1) 32-byte entries {u32 index, u32 0, u64 value,
#                  u64 readback, u64 status}. Installs an IDT whose #GP handler skips the faulting
#                  wrmsr/rdmsr and ORs 1 (write) or 2 (read) into the entry's status; wrmsr of every
#                  entry's value in table order; stop; rdmsr of every entry into its readback.
#   cpuid_query    in: rsi = list of rcx (≥ 1) 24-byte entries {u32 leaf, u32 subleaf, u32 eax, ebx,
#                  ecx, edx}; runs CPUID for each and stores the four registers.
#   avx_mix        in: rcx = iterations (≥ 1), rdx = iteration (rcx counting down) at which to stop,
#                  0 for none; rdi = output buffer (0x1000 bytes). The host enables the state first:
#                  CR4.OSFXSR|OSXMMEXCPT|OSXSAVE and XCR0 (KVM_SET_XCRS) — a guest xsetbv is not
#                  seen by KVM in the nested-x86 tier (QEMU's TCG does not honour SVM's XSETBV
#                  intercept, measured), so the next VM entry would undo it. Without YMM in XCR0 it
#                  ends with status 1. With opmask|ZMM_Hi256|Hi16_ZMM in XCR0 it takes the AVX-512
#                  path (r15 = 1), else AVX2 (r15 = 0). Fills every YMM (ZMM)
#                  register from a seed and mixes them each iteration — lane-crossing permutes, so
#                  the upper halves feed the lower ones — and keeps an x87 sum (st(0) += pi). Output:
#                  the vector registers at 0x000 (16×32 or 32×64 bytes), k1 at 0x800 (AVX-512),
#                  st0 as 10 bytes at 0x900.
#   tsc_probe      CPL0. in: rdi = output (3 qwords), rsi = a value to write to the TSC first (0:
#                  none). rdtsc → [rdi]; stop; rdtsc → [rdi+8]; stop; rdtsc → [rdi+16].

        .intel_syntax noprefix
        .code64

        .set STOP_PORT, 0x10
        .set EXIT_PORT, 0xf4
        .set IDT_VECTORS, 32
        .set GP_VECTOR, 13

        .macro STOP
        out     STOP_PORT, al
        .endm

        .macro EXIT_OK
        xor     eax, eax
        out     EXIT_PORT, al
        jmp     .
        .endm

        .text
        .globl _start, msr_roundtrip
_start:
msr_roundtrip:
        call    install_gp_handler
        mov     r12, rcx
        mov     r13, 1                      # phase for the #GP handler: 1 = write
        mov     r14, rsi
        mov     rbx, r12
1:      mov     ecx, dword ptr [r14]
        mov     eax, dword ptr [r14 + 8]
        mov     edx, dword ptr [r14 + 12]
        wrmsr
        add     r14, 32
        dec     rbx
        jnz     1b
        STOP
        mov     r13, 2                      # 2 = read
        mov     r14, rsi
        mov     rbx, r12
2:      mov     ecx, dword ptr [r14]
        xor     eax, eax
        xor     edx, edx
        rdmsr
        mov     dword ptr [r14 + 16], eax
        mov     dword ptr [r14 + 20], edx
        add     r14, 32
        dec     rbx
        jnz     2b
        EXIT_OK

# A 64-bit interrupt gate for #GP into the IDT below (the builders leave the IDT empty), and lidt.
install_gp_handler:
        lea     rax, [rip + gp_handler]
        lea     r11, [rip + idt + GP_VECTOR * 16]
        mov     word ptr [r11], ax          # offset 15:0
        mov     r10w, cs
        mov     word ptr [r11 + 2], r10w    # selector
        mov     word ptr [r11 + 4], 0x8e00  # present, DPL 0, 64-bit interrupt gate, IST 0
        shr     rax, 16
        mov     word ptr [r11 + 6], ax      # offset 31:16
        shr     rax, 16
        mov     dword ptr [r11 + 8], eax    # offset 63:32
        mov     dword ptr [r11 + 12], 0
        lidt    [rip + idtr]
        ret

# #GP from wrmsr/rdmsr (both 2 bytes): record it in the current entry (r14) and skip the instruction.
gp_handler:
        add     rsp, 8                      # the error code
        or      qword ptr [r14 + 24], r13
        add     qword ptr [rsp], 2
        iretq

        .globl cpuid_query
cpuid_query:
        mov     r8, rcx
        mov     r9, rsi
1:      mov     eax, dword ptr [r9]
        mov     ecx, dword ptr [r9 + 4]
        cpuid
        mov     dword ptr [r9 + 8], eax
        mov     dword ptr [r9 + 12], ebx
        mov     dword ptr [r9 + 16], ecx
        mov     dword ptr [r9 + 20], edx
        add     r9, 24
        dec     r8
        jnz     1b
        EXIT_OK

        .macro MIX256 a, b
        vpaddq  ymm\a, ymm\a, ymm\b
        vpermq  ymm\a, ymm\a, 0x93
        vpxor   ymm\b, ymm\b, ymm\a
        .endm

        .macro MIX512 a, b
        vpaddq  zmm\a{k1}, zmm\a, zmm\b
        vpermq  zmm\a, zmm\a, 0x93
        vpxorq  zmm\b, zmm\b, zmm\a
        .endm

        .globl avx_mix
avx_mix:
        mov     r8, rcx
        mov     r9, rdx
        mov     r10, rdi
        xor     ecx, ecx
        xgetbv
        bt      eax, 2                      # YMM
        jc      1f
        mov     al, 1
        out     EXIT_PORT, al
        jmp     .
1:      xor     r15d, r15d
        and     eax, 0xe0                   # opmask, ZMM_Hi256, Hi16_ZMM
        cmp     eax, 0xe0
        jne     2f
        mov     r15d, 1
2:
        fninit
        fldpi
        fldz
        test    r15d, r15d
        jnz     avx512_mix

        vmovdqu ymm0, ymmword ptr [rip + seed]
        vpermq  ymm1, ymm0, 0x1b
        vpaddq  ymm2, ymm1, ymm0
        vpermq  ymm2, ymm2, 0x65
        vpaddq  ymm3, ymm2, ymm1
        vpermq  ymm3, ymm3, 0x8a
        vpaddq  ymm4, ymm3, ymm2
        vpermq  ymm4, ymm4, 0xaf
        vpaddq  ymm5, ymm4, ymm3
        vpermq  ymm5, ymm5, 0xd4
        vpaddq  ymm6, ymm5, ymm4
        vpermq  ymm6, ymm6, 0xf9
        vpaddq  ymm7, ymm6, ymm5
        vpermq  ymm7, ymm7, 0x1e
        vpaddq  ymm8, ymm7, ymm6
        vpermq  ymm8, ymm8, 0x43
        vpaddq  ymm9, ymm8, ymm7
        vpermq  ymm9, ymm9, 0x68
        vpaddq  ymm10, ymm9, ymm8
        vpermq  ymm10, ymm10, 0x8d
        vpaddq  ymm11, ymm10, ymm9
        vpermq  ymm11, ymm11, 0xb2
        vpaddq  ymm12, ymm11, ymm10
        vpermq  ymm12, ymm12, 0xd7
        vpaddq  ymm13, ymm12, ymm11
        vpermq  ymm13, ymm13, 0xfc
        vpaddq  ymm14, ymm13, ymm12
        vpermq  ymm14, ymm14, 0x21
        vpaddq  ymm15, ymm14, ymm13
        vpermq  ymm15, ymm15, 0x46
3:
        MIX256 0, 1
        MIX256 1, 2
        MIX256 2, 3
        MIX256 3, 4
        MIX256 4, 5
        MIX256 5, 6
        MIX256 6, 7
        MIX256 7, 8
        MIX256 8, 9
        MIX256 9, 10
        MIX256 10, 11
        MIX256 11, 12
        MIX256 12, 13
        MIX256 13, 14
        MIX256 14, 15
        MIX256 15, 0
        fadd    st(0), st(1)
        cmp     r8, r9
        jne     4f
        STOP
4:      dec     r8
        jnz     3b
        vmovdqu ymmword ptr [r10 + 0], ymm0
        vmovdqu ymmword ptr [r10 + 32], ymm1
        vmovdqu ymmword ptr [r10 + 64], ymm2
        vmovdqu ymmword ptr [r10 + 96], ymm3
        vmovdqu ymmword ptr [r10 + 128], ymm4
        vmovdqu ymmword ptr [r10 + 160], ymm5
        vmovdqu ymmword ptr [r10 + 192], ymm6
        vmovdqu ymmword ptr [r10 + 224], ymm7
        vmovdqu ymmword ptr [r10 + 256], ymm8
        vmovdqu ymmword ptr [r10 + 288], ymm9
        vmovdqu ymmword ptr [r10 + 320], ymm10
        vmovdqu ymmword ptr [r10 + 352], ymm11
        vmovdqu ymmword ptr [r10 + 384], ymm12
        vmovdqu ymmword ptr [r10 + 416], ymm13
        vmovdqu ymmword ptr [r10 + 448], ymm14
        vmovdqu ymmword ptr [r10 + 480], ymm15
        jmp     avx_done

avx512_mix:
        mov     eax, 0x5a5a
        kmovw   k1, eax
        vbroadcasti64x4 zmm0, ymmword ptr [rip + seed]
        vprolq  zmm1, zmm0, 1
        vpaddq  zmm2, zmm1, zmm0
        vprolq  zmm2, zmm2, 2
        vpaddq  zmm3, zmm2, zmm1
        vprolq  zmm3, zmm3, 3
        vpaddq  zmm4, zmm3, zmm2
        vprolq  zmm4, zmm4, 4
        vpaddq  zmm5, zmm4, zmm3
        vprolq  zmm5, zmm5, 5
        vpaddq  zmm6, zmm5, zmm4
        vprolq  zmm6, zmm6, 6
        vpaddq  zmm7, zmm6, zmm5
        vprolq  zmm7, zmm7, 7
        vpaddq  zmm8, zmm7, zmm6
        vprolq  zmm8, zmm8, 8
        vpaddq  zmm9, zmm8, zmm7
        vprolq  zmm9, zmm9, 9
        vpaddq  zmm10, zmm9, zmm8
        vprolq  zmm10, zmm10, 10
        vpaddq  zmm11, zmm10, zmm9
        vprolq  zmm11, zmm11, 11
        vpaddq  zmm12, zmm11, zmm10
        vprolq  zmm12, zmm12, 12
        vpaddq  zmm13, zmm12, zmm11
        vprolq  zmm13, zmm13, 13
        vpaddq  zmm14, zmm13, zmm12
        vprolq  zmm14, zmm14, 14
        vpaddq  zmm15, zmm14, zmm13
        vprolq  zmm15, zmm15, 15
        vpaddq  zmm16, zmm15, zmm14
        vprolq  zmm16, zmm16, 16
        vpaddq  zmm17, zmm16, zmm15
        vprolq  zmm17, zmm17, 17
        vpaddq  zmm18, zmm17, zmm16
        vprolq  zmm18, zmm18, 18
        vpaddq  zmm19, zmm18, zmm17
        vprolq  zmm19, zmm19, 19
        vpaddq  zmm20, zmm19, zmm18
        vprolq  zmm20, zmm20, 20
        vpaddq  zmm21, zmm20, zmm19
        vprolq  zmm21, zmm21, 21
        vpaddq  zmm22, zmm21, zmm20
        vprolq  zmm22, zmm22, 22
        vpaddq  zmm23, zmm22, zmm21
        vprolq  zmm23, zmm23, 23
        vpaddq  zmm24, zmm23, zmm22
        vprolq  zmm24, zmm24, 24
        vpaddq  zmm25, zmm24, zmm23
        vprolq  zmm25, zmm25, 25
        vpaddq  zmm26, zmm25, zmm24
        vprolq  zmm26, zmm26, 26
        vpaddq  zmm27, zmm26, zmm25
        vprolq  zmm27, zmm27, 27
        vpaddq  zmm28, zmm27, zmm26
        vprolq  zmm28, zmm28, 28
        vpaddq  zmm29, zmm28, zmm27
        vprolq  zmm29, zmm29, 29
        vpaddq  zmm30, zmm29, zmm28
        vprolq  zmm30, zmm30, 30
        vpaddq  zmm31, zmm30, zmm29
        vprolq  zmm31, zmm31, 31
3:
        MIX512 0, 1
        MIX512 1, 2
        MIX512 2, 3
        MIX512 3, 4
        MIX512 4, 5
        MIX512 5, 6
        MIX512 6, 7
        MIX512 7, 8
        MIX512 8, 9
        MIX512 9, 10
        MIX512 10, 11
        MIX512 11, 12
        MIX512 12, 13
        MIX512 13, 14
        MIX512 14, 15
        MIX512 15, 16
        MIX512 16, 17
        MIX512 17, 18
        MIX512 18, 19
        MIX512 19, 20
        MIX512 20, 21
        MIX512 21, 22
        MIX512 22, 23
        MIX512 23, 24
        MIX512 24, 25
        MIX512 25, 26
        MIX512 26, 27
        MIX512 27, 28
        MIX512 28, 29
        MIX512 29, 30
        MIX512 30, 31
        MIX512 31, 0
        kmovw   eax, k1
        rol     ax, 3
        or      ax, 1
        kmovw   k1, eax
        fadd    st(0), st(1)
        cmp     r8, r9
        jne     4f
        STOP
4:      dec     r8
        jnz     3b
        vmovdqu64 zmmword ptr [r10 + 0], zmm0
        vmovdqu64 zmmword ptr [r10 + 64], zmm1
        vmovdqu64 zmmword ptr [r10 + 128], zmm2
        vmovdqu64 zmmword ptr [r10 + 192], zmm3
        vmovdqu64 zmmword ptr [r10 + 256], zmm4
        vmovdqu64 zmmword ptr [r10 + 320], zmm5
        vmovdqu64 zmmword ptr [r10 + 384], zmm6
        vmovdqu64 zmmword ptr [r10 + 448], zmm7
        vmovdqu64 zmmword ptr [r10 + 512], zmm8
        vmovdqu64 zmmword ptr [r10 + 576], zmm9
        vmovdqu64 zmmword ptr [r10 + 640], zmm10
        vmovdqu64 zmmword ptr [r10 + 704], zmm11
        vmovdqu64 zmmword ptr [r10 + 768], zmm12
        vmovdqu64 zmmword ptr [r10 + 832], zmm13
        vmovdqu64 zmmword ptr [r10 + 896], zmm14
        vmovdqu64 zmmword ptr [r10 + 960], zmm15
        vmovdqu64 zmmword ptr [r10 + 1024], zmm16
        vmovdqu64 zmmword ptr [r10 + 1088], zmm17
        vmovdqu64 zmmword ptr [r10 + 1152], zmm18
        vmovdqu64 zmmword ptr [r10 + 1216], zmm19
        vmovdqu64 zmmword ptr [r10 + 1280], zmm20
        vmovdqu64 zmmword ptr [r10 + 1344], zmm21
        vmovdqu64 zmmword ptr [r10 + 1408], zmm22
        vmovdqu64 zmmword ptr [r10 + 1472], zmm23
        vmovdqu64 zmmword ptr [r10 + 1536], zmm24
        vmovdqu64 zmmword ptr [r10 + 1600], zmm25
        vmovdqu64 zmmword ptr [r10 + 1664], zmm26
        vmovdqu64 zmmword ptr [r10 + 1728], zmm27
        vmovdqu64 zmmword ptr [r10 + 1792], zmm28
        vmovdqu64 zmmword ptr [r10 + 1856], zmm29
        vmovdqu64 zmmword ptr [r10 + 1920], zmm30
        vmovdqu64 zmmword ptr [r10 + 1984], zmm31
        kmovq   qword ptr [r10 + 0x800], k1

avx_done:
        fstp    tbyte ptr [r10 + 0x900]
        EXIT_OK

        .globl tsc_probe
tsc_probe:
        test    rsi, rsi
        jz      1f
        mov     ecx, 0x10                   # IA32_TIME_STAMP_COUNTER
        mov     rax, rsi
        mov     rdx, rsi
        shr     rdx, 32
        wrmsr
1:      rdtsc
        shl     rdx, 32
        or      rax, rdx
        mov     qword ptr [rdi], rax
        STOP
        rdtsc
        shl     rdx, 32
        or      rax, rdx
        mov     qword ptr [rdi + 8], rax
        STOP
        rdtsc
        shl     rdx, 32
        or      rax, rdx
        mov     qword ptr [rdi + 16], rax
        EXIT_OK

        .balign 32
seed:
        .quad   0x0123456789abcdef, 0xfedcba9876543210, 0x0f1e2d3c4b5a6978, 0x8796a5b4c3d2e1f0
idtr:
        .word   IDT_VECTORS * 16 - 1
        .quad   idt
        .balign 16
idt:
        .zero   IDT_VECTORS * 16
