# long-mode-tests — one tiny 64-bit scenario per entry point, for the KVM integration suite.
#
# Contract (all scenarios)
#   mode     64-bit long mode: longModeSetup({ cpl: 0 | 3, ... }). Every scenario except `halt`
#            runs at CPL3 (IOPL 3 makes in/out legal) or CPL0; prefer CPL3 on PVM hosts, where CPL0
#            is emulated instruction by instruction.
#   load     0x8000 (GUEST_LAYOUT.code). Start with rip = the scenario's symbol (from
#            assembleGuest(...).symbols); `_start` is `pio_basic`.
#   end      a 1-byte write of status 0 to the exit port 0xf4 (`out 0xf4, al`; rax is clobbered,
#            so no scenario returns a value in rax), then `jmp .` if resumed — except `halt`, `triple_fault` and `spin`, described below.
#   Memory addresses the host passes must be identity-mapped (mapBytes covers them).
#
# Scenarios
#   pio_basic      out 0x10 ← 0x11 (1 byte), 0x2233 (2 bytes), 0x44556677 (4 bytes), in that order;
#                  then in from port 0x11: 1 byte → r8, 2 bytes → r9, 4 bytes → r10 (zero-extended).
#   pio_string     in: rsi = source, rcx = byte count, rdi = destination, r8 = word count.
#                  `rep outsb` rcx bytes from [rsi] to port 0x12, then `rep insw` r8 words from
#                  port 0x12 into [rdi]. Direction flag cleared first.
#   mmio           in: rdi = an address with no memory behind it (MMIO).
#                  writes: [rdi] ← 0x11 (1 byte), [rdi+0x10] ← 0x2233 (2), [rdi+0x20] ← 0x44556677 (4),
#                  [rdi+0x30] ← 0x8899aabbccddeeff (8); then reads, zero-extended: r8 ← [rdi] (1),
#                  r9 ← [rdi+0x10] (2), r10 ← [rdi+0x20] (4), r11 ← [rdi+0x30] (8).
#   coalesced      in: rdi = zone base, rcx = count. Stores dword i at [rdi + 4·i] for i = 0..count-1
#                  (rcx = 0: none). The final exit-port write flushes the coalesced ring.
#   readonly_write in: rdi = address inside a read-only memory slot.
#                  r8 ← qword [rdi] (a plain read: no exit); dword [rdi] ← 0x5a5a5a5a (an MMIO write
#                  exit, len 4, the memory keeps its value); r9 ← qword [rdi] (equals r8).
#   sum_loop       in: rcx = n ≥ 1. rbx ← n + (n-1) + … + 1 = n(n+1)/2 with an `add; dec; jnz` loop.
#                  Native speed at CPL3; about 0.3 µs per iteration·instruction at CPL0 on PVM.
#   halt           CPL0 only: `hlt` (a HLT exit without an in-kernel irqchip), then the exit write.
#                  At CPL3 hlt raises #GP, which with an empty IDT is a triple fault.
#   triple_fault   `ud2` with the builders' default empty IDT (limit 0): #UD → #GP → #DF → shutdown
#                  (KVM_EXIT_SHUTDOWN). Works at CPL0 and CPL3. Never reaches the exit port.
#   spin           `jmp .` forever; for kick/stop tests. Run it at CPL3 (native, costs nothing).
#   sse_mmio       in: rdi = an MMIO address, rsi = address of 16 pattern bytes; CR4.OSFXSR set by
#                  the host. xmm0 ← [rsi]; `movdqu [rdi], xmm0` (KVM splits it into two 8-byte MMIO
#                  writes); `movdqu xmm2, [rdi]` (two 8-byte reads); r12 ← xmm2 low, r13 ← xmm2 high.
#   uart_hammer    in: rcx = rounds (0: forever), rdx = the UART's base port. Each round: IER ← THRI
#                  (the THRE interrupt becomes pending: the UART raises its line), read IIR (which
#                  acknowledges it: the line drops), IER ← 0. Several vCPUs may run it at once.

        .intel_syntax noprefix
        .code64

        .set TEST_PORT_OUT, 0x10
        .set TEST_PORT_IN, 0x11
        .set STRING_PORT, 0x12
        .set EXIT_PORT, 0xf4

        .macro EXIT_OK
        xor     eax, eax
        out     EXIT_PORT, al
        jmp     .
        .endm

        .text
        .globl _start, pio_basic
_start:
pio_basic:
        mov     al, 0x11
        out     TEST_PORT_OUT, al
        mov     ax, 0x2233
        out     TEST_PORT_OUT, ax
        mov     eax, 0x44556677
        out     TEST_PORT_OUT, eax
        in      al, TEST_PORT_IN
        movzx   r8d, al
        in      ax, TEST_PORT_IN
        movzx   r9d, ax
        in      eax, TEST_PORT_IN
        mov     r10d, eax
        EXIT_OK

        .globl pio_string
pio_string:
        cld
        mov     dx, STRING_PORT
        rep outsb
        mov     rcx, r8
        rep insw
        EXIT_OK

        .globl mmio
mmio:
        mov     byte ptr [rdi], 0x11
        mov     word ptr [rdi + 0x10], 0x2233
        mov     dword ptr [rdi + 0x20], 0x44556677
        mov     rax, 0x8899aabbccddeeff
        mov     qword ptr [rdi + 0x30], rax
        movzx   r8d, byte ptr [rdi]
        movzx   r9d, word ptr [rdi + 0x10]
        mov     r10d, dword ptr [rdi + 0x20]
        mov     r11, qword ptr [rdi + 0x30]
        EXIT_OK

        .globl coalesced
coalesced:
        xor     eax, eax
        test    rcx, rcx
        jz      2f
1:      mov     dword ptr [rdi + rax*4], eax
        inc     eax
        cmp     rax, rcx
        jb      1b
2:      EXIT_OK

        .globl readonly_write
readonly_write:
        mov     r8, qword ptr [rdi]
        mov     dword ptr [rdi], 0x5a5a5a5a
        mov     r9, qword ptr [rdi]
        EXIT_OK

        .globl sum_loop
sum_loop:
        xor     ebx, ebx
1:      add     rbx, rcx
        dec     rcx
        jnz     1b
        EXIT_OK

        .globl halt
halt:
        hlt
        EXIT_OK

        .globl triple_fault
triple_fault:
        ud2

        .globl spin
spin:
        jmp     .

        .globl sse_mmio
sse_mmio:
        movdqu  xmm0, xmmword ptr [rsi]
        movdqu  xmmword ptr [rdi], xmm0
        movdqu  xmm2, xmmword ptr [rdi]
        movq    r12, xmm2
        psrldq  xmm2, 8
        movq    r13, xmm2
        EXIT_OK

        .globl uart_hammer
uart_hammer:
        mov     r8, rdx
1:      lea     rdx, [r8 + 1]
        mov     al, 2
        out     dx, al
        lea     rdx, [r8 + 2]
        in      al, dx
        lea     rdx, [r8 + 1]
        xor     eax, eax
        out     dx, al
        test    rcx, rcx
        jz      1b
        dec     rcx
        jnz     1b
        EXIT_OK
