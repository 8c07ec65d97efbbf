# smp-tests — INIT/SIPI bring-up of application processors through the in-kernel LAPIC
# (smp.kvm.test.ts).
#
# Contract (all scenarios)
#   machine  archOptions { irqchip: 'kernel', apStart: 'sipi' }, cpus ≥ 2: the APs wait for SIPI.
#            The MP tables (buildMpTable) at 0xF0000, passed as boot data. The LAPIC page
#            (0xfee00000) identity-mapped: boot with mapBytes = 4 GiB.
#   end      the result register (port 0xf8, 4 bytes) = the scenario's summary, then `out 0xf4, al`
#            with al = the exit status, then `jmp .`.
#
# Scenarios (vCPU 0, 64-bit long mode at CPL0)
#   bsp_start    enables its LAPIC (SVR = 0x1ff); reads the MP floating pointer at 0xF0000 (no
#                "_MP_" there: result 0xbad00001, status 1), walks the configuration table and,
#                for every processor entry that is enabled and not the BSP, sends to its APIC id:
#                INIT (level, assert), INIT (level, deassert), then STARTUP twice with vector
#                ap_trampoline >> 12, waiting for the ICR's delivery-status bit to clear after each.
#                Then spins (bounded: 200,000,000 rounds) until `ap_count` equals the number of APs
#                it started. result = ap_count; status 0 when it equals the APs started, else 2.
#   bsp_alone    sends nothing: result 0, status 0 (the APs must still be waiting afterwards).
#
# ap_trampoline (4 KiB-aligned; an AP enters it in 16-bit real mode at CS = vector << 8, IP = 0)
#   DS = 0; ap_ids[apic id] (dword) = 0x100 | CPUID.1:EBX[31:24] (its initial APIC id); ap_cs[apic
#   id] (word) = CS; `lock inc dword ptr [ap_count]`; then `cli; hlt` for good. Its data lies
#   below 64 KiB (the image is at 0x8000), so real-mode addressing reaches it.

        .intel_syntax noprefix

        .set EXIT_PORT, 0xf4
        .set RESULT_PORT, 0xf8
        .set LAPIC_BASE, 0xfee00000
        .set LAPIC_SVR, 0xf0
        .set LAPIC_ICR_LOW, 0x300
        .set LAPIC_ICR_HIGH, 0x310
        .set ICR_DELIVERY_PENDING, 0x1000
        .set ICR_INIT_ASSERT, 0x0000c500      # INIT, level-triggered, assert
        .set ICR_INIT_DEASSERT, 0x00008500    # INIT, level-triggered, deassert
        .set ICR_STARTUP, 0x00004600          # STARTUP, assert; | vector
        .set MP_FLOATING_POINTER, 0xf0000
        .set MP_SIGNATURE, 0x5f504d5f         # "_MP_"
        .set SPIN_ROUNDS, 200000000

        .macro FINISH status
        out     RESULT_PORT, eax
        mov     al, \status
        out     EXIT_PORT, al
        jmp     .
        .endm

        .text
        .code64
        .globl _start, bsp_start, bsp_alone, ap_trampoline, ap_ids, ap_cs, ap_count

_start:
bsp_start:
        mov     r8d, LAPIC_BASE
        mov     dword ptr [r8 + LAPIC_SVR], 0x1ff
        mov     eax, MP_FLOATING_POINTER
        cmp     dword ptr [rax], MP_SIGNATURE
        jne     no_mp_table
        mov     ebx, dword ptr [rax + 4]            # the configuration table
        movzx   ecx, word ptr [rbx + 34]            # entry count
        lea     rsi, [rbx + 44]                     # first entry
        xor     r12d, r12d                          # APs started
next_entry:
        test    ecx, ecx
        jz      entries_done
        dec     ecx
        cmp     byte ptr [rsi], 0                   # type 0: processor (20 bytes); others are 8
        jne     short_entry
        mov     al, byte ptr [rsi + 3]              # CPU flags: bit 0 enabled, bit 1 BSP
        and     al, 3
        cmp     al, 1
        jne     1f
        movzx   edi, byte ptr [rsi + 1]             # its local APIC id
        call    start_ap
        inc     r12d
1:      add     rsi, 20
        jmp     next_entry
short_entry:
        add     rsi, 8
        jmp     next_entry

entries_done:
        mov     ecx, SPIN_ROUNDS
        lea     rdx, [rip + ap_count]
2:      cmp     dword ptr [rdx], r12d
        jae     3f
        dec     ecx
        jnz     2b
        mov     eax, dword ptr [rdx]
        FINISH  2
3:      mov     eax, dword ptr [rdx]
        FINISH  0

no_mp_table:
        mov     eax, 0xbad00001
        FINISH  1

bsp_alone:
        xor     eax, eax
        FINISH  0

# INIT, INIT deassert, STARTUP, STARTUP to APIC id edi (the MP spec's universal start-up
# algorithm, without its delays: KVM delivers each IPI before the ICR write returns).
start_ap:
        shl     edi, 24
        mov     eax, ICR_INIT_ASSERT
        call    send_ipi
        mov     eax, ICR_INIT_DEASSERT
        call    send_ipi
        mov     eax, offset ap_trampoline
        shr     eax, 12
        or      eax, ICR_STARTUP
        call    send_ipi
        call    send_ipi
        ret

# ICR high = edi (destination in bits 31:24), ICR low = eax; wait until delivered.
send_ipi:
        mov     dword ptr [r8 + LAPIC_ICR_HIGH], edi
        mov     dword ptr [r8 + LAPIC_ICR_LOW], eax
1:      test    dword ptr [r8 + LAPIC_ICR_LOW], ICR_DELIVERY_PENDING
        jnz     1b
        ret

        .balign 4
ap_count:
        .long   0
ap_ids:
        .fill   16, 4, 0
ap_cs:
        .fill   16, 2, 0

        .balign 4096
        .code16
ap_trampoline:
        cli
        xor     ax, ax
        mov     ds, ax
        mov     eax, 1
        cpuid
        shr     ebx, 24                             # initial APIC id
        and     ebx, 15                             # the tables hold 16 slots
        mov     eax, ebx
        or      eax, 0x100
        mov     dword ptr [ebx * 4 + ap_ids], eax
        mov     ax, cs
        mov     word ptr [ebx * 2 + ap_cs], ax
        lock inc dword ptr [ap_count]
1:      cli
        hlt
        jmp     1b
