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

        .text
        .globl _start, cmos_then_reset, port92_reset, cmos_registers

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
