# real-mode-io — 16-bit real-mode port I/O, then hlt.
#
# Contract
#   mode     real mode: realModeSetup({ cs: 0, ip: 0x8000, sp: 0x7000 }) (any SS:SP works).
#   load     0x8000 (GUEST_LAYOUT.code); entry `_start`.
#   in       nothing.
#   does     1. out 0x10, al = 0x5a            (1-byte PIO write)
#            2. in  al, 0x11  → bl              (1-byte PIO read; the host supplies the byte)
#            3. out 0x10, al = bl + 1           (1-byte PIO write: echoes what it read, plus one)
#            4. hlt; if resumed, hlt again (forever).
#   out      bl = the byte read in step 2.
#   Runs at CPL0, so every instruction is emulated on PVM hosts: it is a dozen instructions.

        .intel_syntax noprefix
        .code16
        .set TEST_PORT_OUT, 0x10
        .set TEST_PORT_IN, 0x11

        .text
        .globl _start
_start:
        mov     al, 0x5a
        out     TEST_PORT_OUT, al
        in      al, TEST_PORT_IN
        mov     bl, al
        inc     al
        out     TEST_PORT_OUT, al
        .globl halt_loop
halt_loop:
        hlt
        jmp     halt_loop
