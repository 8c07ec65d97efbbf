# pc-devices-tests — the boot devices Linux probes: the CMOS/RTC and the i8042's reset line, and
# port 0x92 (pc-devices.kvm.test.ts).
#
# Contract (all scenarios)
#   mode     64-bit long mode at CPL0, load 0x8000, rip = the scenario's symbol; rdi = a buffer
#            (identity-mapped, 64 bytes).
#   devices  cmos-rtc at 0x70/0x71, i8042 at 0x60/0x64, system-control-port at 0x92, exit device.
#   end      a scenario that resets never gets past its reset; if it does, `out 0xf4, al` with
#            al = 1 (status 1: "the reset did not stop the run").
#
# Scenarios
#   cmos_then_reset  waits while status A's UIP is set (bounded: 1,000,000 reads), then reads CMOS
#                    registers 0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32, 0x0a, 0x0b, 0x0d,
#                    0x15, 0x16, 0x17, 0x18, 0x30, 0x31, 0x34, 0x35, 0x5b, 0x5c, 0x5d, 0x5f into
#                    [rdi + 0..22], one byte each, in that order (index writes with the NMI-disable
#                    bit set, as Linux does). Then the i8042: self-test (0xaa → [rdi + 32]), command
#                    byte (0x20 → [rdi + 33]), the status register after reading them ([rdi + 34]),
#                    each answer awaited (OBF) with a bound of 1,000,000 status reads (on timeout
#                    the byte stored is 0xee); finally Linux's reboot=k: `out 0x64, 0xfe`.
#   port92_reset     `in al, 0x92` → [rdi]; sets bit 0 and writes it back (fast reset).
#   pit_ioapic       irqchip 'kernel'; needs the IOAPIC and LAPIC pages mapped (mapBytes 4 GiB);
#                    in: edx = ticks to wait for (≥ 1). Both 8259s masked (all interrupts through
#                    the IOAPIC); LAPIC on (SVR 0x1ff); IOAPIC pin 0 → vector 0x31 and pin 2 →
#                    vector 0x30 (fixed, edge, active high, unmasked, APIC 0); an IDT with handlers
#                    for 0x30 and 0x31 that count into [rdi] and [rdi + 4] and write the LAPIC's
#                    EOI; PIT channel 0 periodic (mode 2, divisor 1193: ~1 ms); `sti; hlt` until the
#                    two counts add up to edx; then cli, the PIT stopped, status 0. Which count
#                    grew says which IOAPIC pin the PIT's GSI 0 reaches (archOptions.gsiRouting).

        .intel_syntax noprefix
        .code64

        .set EXIT_PORT, 0xf4
        .set CMOS_INDEX, 0x70
        .set CMOS_DATA, 0x71
        .set NMI_DISABLE, 0x80
        .set KBD_DATA, 0x60
        .set KBD_STATUS, 0x64
        .set KBD_OBF, 0x01
        .set SYSTEM_CONTROL, 0x92
        .set BOUND, 1000000
        .set IOAPIC_SELECT, 0xfec00000
        .set IOAPIC_WINDOW, 0xfec00010
        .set LAPIC_SVR, 0xfee000f0
        .set LAPIC_EOI, 0xfee000b0
        .set PIT_CH0, 0x40
        .set PIT_CMD, 0x43

        .text
        .globl _start, cmos_then_reset, port92_reset, pit_ioapic, cmos_registers

_start:
cmos_then_reset:
        mov     ecx, BOUND
1:      mov     al, NMI_DISABLE | 0x0a
        out     CMOS_INDEX, al
        in      al, CMOS_DATA
        test    al, 0x80                            # UIP
        jz      2f
        dec     ecx
        jnz     1b
2:      lea     rsi, [rip + cmos_registers]
        xor     edx, edx
3:      mov     al, byte ptr [rsi + rdx]
        or      al, NMI_DISABLE
        out     CMOS_INDEX, al
        in      al, CMOS_DATA
        mov     byte ptr [rdi + rdx], al
        inc     edx
        cmp     edx, cmos_registers_end - cmos_registers
        jb      3b

        mov     al, 0xaa                            # controller self-test
        out     KBD_STATUS, al
        call    read_kbd
        mov     byte ptr [rdi + 32], al
        mov     al, 0x20                            # read the command byte
        out     KBD_STATUS, al
        call    read_kbd
        mov     byte ptr [rdi + 33], al
        in      al, KBD_STATUS
        mov     byte ptr [rdi + 34], al

        mov     al, 0xfe                            # pulse the CPU reset line (reboot=k)
        out     KBD_STATUS, al
        mov     al, 1
        out     EXIT_PORT, al
        jmp     .

port92_reset:
        in      al, SYSTEM_CONTROL
        mov     byte ptr [rdi], al
        or      al, 1
        out     SYSTEM_CONTROL, al
        mov     al, 1
        out     EXIT_PORT, al
        jmp     .

pit_ioapic:
        mov     r12d, edx
        mov     dword ptr [rdi], 0
        mov     dword ptr [rdi + 4], 0
        mov     qword ptr [rip + counts_at], rdi
        lea     rax, [rip + tick_pin2]
        mov     ecx, 0x30
        call    set_gate
        lea     rax, [rip + tick_pin0]
        mov     ecx, 0x31
        call    set_gate
        lidt    [rip + idtr]
        mov     al, 0xff                            # both 8259s masked
        out     0x21, al
        out     0xa1, al
        mov     rdx, LAPIC_SVR
        mov     dword ptr [rdx], 0x1ff
        mov     ecx, 0                              # pin 0 → vector 0x31
        mov     eax, 0x31
        call    route_pin
        mov     ecx, 2                              # pin 2 → vector 0x30
        mov     eax, 0x30
        call    route_pin
        mov     al, 0x34                            # channel 0, lobyte/hibyte, mode 2, binary
        out     PIT_CMD, al
        mov     ax, 1193
        out     PIT_CH0, al
        mov     al, ah
        out     PIT_CH0, al
        sti
1:      hlt
        mov     eax, dword ptr [rdi]
        add     eax, dword ptr [rdi + 4]
        cmp     eax, r12d
        jb      1b
        cli
        mov     al, 0x30                            # channel 0, mode 0: one count, never reloaded
        out     PIT_CMD, al
        xor     eax, eax
        out     EXIT_PORT, al
        jmp     .

# IOAPIC redirection entry ecx = vector eax: fixed, physical, active high, edge, unmasked, APIC 0.
route_pin:
        mov     rdx, IOAPIC_SELECT
        mov     rsi, IOAPIC_WINDOW
        lea     r8d, [0x10 + rcx * 2]
        mov     dword ptr [rdx], r8d
        mov     dword ptr [rsi], eax
        inc     r8d
        mov     dword ptr [rdx], r8d
        mov     dword ptr [rsi], 0
        ret

# IDT gate ecx → handler rax (64-bit interrupt gate, DPL 0, the current CS).
set_gate:
        lea     rdx, [rip + idt]
        shl     ecx, 4
        add     rdx, rcx
        mov     word ptr [rdx], ax
        mov     r8w, cs
        mov     word ptr [rdx + 2], r8w
        mov     word ptr [rdx + 4], 0x8e00
        shr     rax, 16
        mov     word ptr [rdx + 6], ax
        shr     rax, 16
        mov     dword ptr [rdx + 8], eax
        mov     dword ptr [rdx + 12], 0
        ret

tick_pin2:
        push    rax
        mov     rax, qword ptr [rip + counts_at]
        lock inc dword ptr [rax]
        jmp     tick_eoi
tick_pin0:
        push    rax
        mov     rax, qword ptr [rip + counts_at]
        lock inc dword ptr [rax + 4]
tick_eoi:
        mov     rax, LAPIC_EOI
        mov     dword ptr [rax], 0
        pop     rax
        iretq

# al = the next byte from the i8042's output buffer, or 0xee when none came.
read_kbd:
        mov     ecx, BOUND
1:      in      al, KBD_STATUS
        test    al, KBD_OBF
        jnz     2f
        dec     ecx
        jnz     1b
        mov     al, 0xee
        ret
2:      in      al, KBD_DATA
        ret

cmos_registers:
        .byte   0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32, 0x0a, 0x0b, 0x0d
        .byte   0x15, 0x16, 0x17, 0x18, 0x30, 0x31, 0x34, 0x35, 0x5b, 0x5c, 0x5d, 0x5f
cmos_registers_end:

        .balign 8
counts_at:
        .quad   0
idtr:
        .word   256 * 16 - 1
        .quad   idt
        .balign 16
idt:
        .fill   256 * 16, 1, 0
