# pci-tests — PCI bus 0 through configuration mechanism #1, from two vCPUs.
#
# Contract
#   mode     64-bit long mode, CPL0, 2 vCPUs; the identity map must cover the PCI window
#            (mapBytes 4 GiB); load 0x8000.
#   machine  a pci-host with the PCI test device (vendor 0x4b56, device 0x7473) on bus 0, in the
#            default windows (memory BARs 0xe0000000+, I/O BARs 0xc000+), and the exit device;
#            the in-kernel irqchip (the INTx part reads the slave 8259's IRR).
#   in       both vCPUs: rdi = results (0x100 bytes, zeroed), rsi = mailbox (8 bytes, zeroed).
#   vCPU 0   rip = pci_main. Scans devices 0–31 (function 0) through 0xCF8/0xCFC, finds the test
#            device by its ids, sizes BAR0–3 (writes all-ones, reads back), programs BAR0 =
#            0xe0000000, BAR1 = 0xc000, BAR2/3 = 0xe0100000, enables I/O and memory decode (a
#            word write), writes and reads registers through the BARs; hands over to vCPU 1
#            (mailbox = 1) and waits for it (mailbox = 2); then checks the old and new BAR0
#            addresses, byte and word config reads at 0xCFE, decode off and on again; then INTx:
#            makes the device's IRQ (the interrupt-line register) level-triggered in the ELCR,
#            asserts INTA# through the device's interrupt register, masks it with the command
#            register's interrupt-disable, unmasks, deasserts, and asserts again (left asserted),
#            reading the 8259's IRR after each step. Ends with `out 0xf4, al`: status 0, or 1 when the test device was not found.
#   vCPU 1   rip = pci_helper. Waits for mailbox = 1; reads through BAR0 (programmed by vCPU 0),
#            moves BAR0 to 0xe0200000 through 0xCF8/0xCFC itself, uses the new address, sets
#            mailbox = 2 and spins.
#   pci_probe  a scenario of its own, for any PCI function with a mem32 BAR0 (1 vCPU is enough).
#            in: esi = the ids to look for (device << 16 | vendor), edx = the address to give
#            BAR0 (inside the memory window), rdi = output (4 dwords). Scans bus 0 for the ids,
#            programs BAR0, enables memory decode, then reads the dword at BAR0 three times.
#            out: [rdi] = the device number, [rdi + 4], [rdi + 8], [rdi + 12] = the three reads.
#            Ends with `out 0xf4, al`: status 0, or 1 when no function has the ids.
#
# Results of pci_main / pci_helper (u32 unless noted; offsets from rdi)
#   0x00 bitmap of devices whose function 0 answered    0x04 device number of the test device
#   0x08 its config dword 0x00 (device << 16 | vendor)  0x0c config dword 0x08 (class, revision)
#   0x10–0x1c BAR0–BAR3 read back after writing all-ones  0x20 config dword 0x0c (header type…)
#   0x24 BAR0+0x00 (the magic)    0x28 BAR0+0x10 after writing 0x12345678 there
#   0x2c port BAR1+0x10 (same register through the I/O BAR)
#   0x30 u64: BAR2+0x20 after writing 0x1122334455667788 there (8-byte MMIO)
#   0x38 BAR0+0x24 (the upper half of that qword, through BAR0)
#   vCPU 1: 0x40 BAR0+0x00   0x44 BAR0+0x10   0x48 new BAR0+0x00 after its move
#           0x4c old BAR0+0x00 after its move (master abort: all-ones)
#   vCPU 0 after the hand-back: 0x50 old BAR0+0x00   0x54 new BAR0+0x14 (0xcafef00d written by
#           vCPU 1)   0x58 byte at 0xCFE with register 0x0c (header type)   0x5c word at 0xCFE
#           with register 0x00 (device id)   0x60 new BAR0+0x00 with memory decode off
#           0x64 port BAR1+0x00 with memory decode off (I/O still on)   0x68 new BAR0+0x00 with
#           memory decode back on   0x6c config dword 0x10 (BAR0) as vCPU 0 reads it
#   INTx (IRR = both 8259s' IRR, slave << 8 | master):  0x70 interrupt-line register
#           0x74 IRR after assert   0x78 status (config word 0x06) after assert
#           0x7c IRR with interrupt-disable set   0x80 status then   0x84 IRR after clearing it
#           0x88 IRR after deassert   0x8c status then   0x90 IRR after asserting again

        .intel_syntax noprefix
        .code64

        .set CONFIG_ADDRESS, 0xcf8
        .set CONFIG_DATA, 0xcfc
        .set EXIT_PORT, 0xf4
        .set ENABLE, 0x80000000
        .set TEST_IDS, 0x74734b56
        .set BAR0_ADDR, 0xe0000000
        .set BAR0_MOVED, 0xe0200000
        .set BAR2_ADDR, 0xe0100000
        .set IO_BASE, 0xc000
        .set DECODE_IO_MEM, 0x3
        .set DECODE_IO, 0x1
        .set INTX_DISABLE, 0x400
        .set INTERRUPT_REGISTER, 0x04
        .set PIC_MASTER, 0x20
        .set PIC_SLAVE, 0xa0
        .set OCW3_READ_IRR, 0x0a
        .set ELCR, 0x4d0

        .text
        .globl _start, pci_main, pci_helper, pci_probe

# eax = config address → eax = config dword. Clobbers dx.
cfg_read:
        mov     dx, CONFIG_ADDRESS
        out     dx, eax
        mov     dx, CONFIG_DATA
        in      eax, dx
        ret

# eax = config address, ecx = value: a dword write. Clobbers dx, eax.
cfg_write:
        mov     dx, CONFIG_ADDRESS
        out     dx, eax
        mov     dx, CONFIG_DATA
        mov     eax, ecx
        out     dx, eax
        ret

# eax = config address, cx = command: a word write at 0xCFC. Clobbers dx, eax.
cfg_write_command:
        mov     dx, CONFIG_ADDRESS
        out     dx, eax
        mov     dx, CONFIG_DATA
        mov     ax, cx
        out     dx, ax
        ret

        # Size the BAR at config register \reg: write all-ones, read back into results + \result.
        .macro SIZE_BAR reg, result
        lea     eax, [r13 + \reg]
        mov     ecx, 0xffffffff
        call    cfg_write
        lea     eax, [r13 + \reg]
        call    cfg_read
        mov     dword ptr [r15 + \result], eax
        .endm

        .macro SET_BAR reg, value
        lea     eax, [r13 + \reg]
        mov     ecx, \value
        call    cfg_write
        .endm

# → eax = slave IRR << 8 | master IRR. Clobbers edx.
read_irr:
        mov     al, OCW3_READ_IRR
        out     PIC_SLAVE, al
        out     PIC_MASTER, al
        in      al, PIC_SLAVE
        mov     ah, al
        in      al, PIC_MASTER
        movzx   eax, ax
        ret

# → status word (config 0x06) of the device at r13d, in eax. Clobbers edx.
read_status:
        lea     eax, [r13 + 0x04]
        call    cfg_read
        shr     eax, 16
        ret

_start:
pci_main:
        mov     r15, rdi
        mov     r14, rsi
        # Scan bus 0: function 0 of every device; absent ones read all-ones.
        xor     ebx, ebx
        xor     r12d, r12d
        mov     dword ptr [r15 + 0x04], 0xffffffff
1:      mov     eax, ebx
        shl     eax, 11
        or      eax, ENABLE
        call    cfg_read
        cmp     ax, 0xffff
        je      2f
        bts     r12d, ebx
        cmp     eax, TEST_IDS
        jne     2f
        mov     dword ptr [r15 + 0x04], ebx
        mov     dword ptr [r15 + 0x08], eax
2:      inc     ebx
        cmp     ebx, 32
        jb      1b
        mov     dword ptr [r15], r12d
        mov     ebx, dword ptr [r15 + 0x04]
        cmp     ebx, 0xffffffff
        jne     3f
        mov     al, 1
        out     EXIT_PORT, al
        jmp     .
3:      mov     r13d, ebx
        shl     r13d, 11
        or      r13d, ENABLE
        mov     dword ptr [r14 + 4], r13d
        lea     eax, [r13 + 0x08]
        call    cfg_read
        mov     dword ptr [r15 + 0x0c], eax
        lea     eax, [r13 + 0x0c]
        call    cfg_read
        mov     dword ptr [r15 + 0x20], eax
        SIZE_BAR 0x10, 0x10
        SIZE_BAR 0x14, 0x14
        SIZE_BAR 0x18, 0x18
        SIZE_BAR 0x1c, 0x1c
        SET_BAR 0x10, BAR0_ADDR
        SET_BAR 0x14, IO_BASE
        SET_BAR 0x18, BAR2_ADDR
        SET_BAR 0x1c, 0
        lea     eax, [r13 + 0x04]
        mov     cx, DECODE_IO_MEM
        call    cfg_write_command
        # Through the BARs.
        mov     ebx, BAR0_ADDR
        mov     eax, dword ptr [rbx]
        mov     dword ptr [r15 + 0x24], eax
        mov     dword ptr [rbx + 0x10], 0x12345678
        mov     eax, dword ptr [rbx + 0x10]
        mov     dword ptr [r15 + 0x28], eax
        mov     dx, IO_BASE + 0x10
        in      eax, dx
        mov     dword ptr [r15 + 0x2c], eax
        mov     ecx, BAR2_ADDR
        mov     rax, 0x1122334455667788
        mov     qword ptr [rcx + 0x20], rax
        mov     rax, qword ptr [rcx + 0x20]
        mov     qword ptr [r15 + 0x30], rax
        mov     eax, dword ptr [rbx + 0x24]
        mov     dword ptr [r15 + 0x38], eax
        # Hand over to vCPU 1 and wait until it has moved BAR0.
        mov     dword ptr [r14], 1
4:      pause
        cmp     dword ptr [r14], 2
        jne     4b
        mov     eax, dword ptr [rbx]
        mov     dword ptr [r15 + 0x50], eax
        mov     ebx, BAR0_MOVED
        mov     eax, dword ptr [rbx + 0x14]
        mov     dword ptr [r15 + 0x54], eax
        # Byte and word accesses at 0xCFE: register + 2 of the latched dword.
        lea     eax, [r13 + 0x0c]
        mov     dx, CONFIG_ADDRESS
        out     dx, eax
        mov     dx, CONFIG_DATA + 2
        xor     eax, eax
        in      al, dx
        mov     dword ptr [r15 + 0x58], eax
        mov     eax, r13d
        mov     dx, CONFIG_ADDRESS
        out     dx, eax
        mov     dx, CONFIG_DATA + 2
        xor     eax, eax
        in      ax, dx
        mov     dword ptr [r15 + 0x5c], eax
        # Memory decode off: BAR0 disappears, the I/O BAR stays.
        lea     eax, [r13 + 0x04]
        mov     cx, DECODE_IO
        call    cfg_write_command
        mov     eax, dword ptr [rbx]
        mov     dword ptr [r15 + 0x60], eax
        mov     dx, IO_BASE
        in      eax, dx
        mov     dword ptr [r15 + 0x64], eax
        lea     eax, [r13 + 0x04]
        mov     cx, DECODE_IO_MEM
        call    cfg_write_command
        mov     eax, dword ptr [rbx]
        mov     dword ptr [r15 + 0x68], eax
        lea     eax, [r13 + 0x10]
        call    cfg_read
        mov     dword ptr [r15 + 0x6c], eax
        # INTx. The IRQ is in the interrupt-line register; the ELCR (0x4d0 + irq / 8, bit irq % 8)
        # makes it level-triggered, so the IRR follows the line both ways.
        lea     eax, [r13 + 0x3c]
        call    cfg_read
        movzx   ecx, al
        mov     dword ptr [r15 + 0x70], ecx
        mov     edx, ecx
        shr     edx, 3
        add     edx, ELCR
        in      al, dx
        mov     esi, ecx
        and     esi, 7
        bts     eax, esi
        out     dx, al
        mov     dword ptr [rbx + INTERRUPT_REGISTER], 1
        call    read_irr
        mov     dword ptr [r15 + 0x74], eax
        call    read_status
        mov     dword ptr [r15 + 0x78], eax
        lea     eax, [r13 + 0x04]
        mov     cx, DECODE_IO_MEM | INTX_DISABLE
        call    cfg_write_command
        call    read_irr
        mov     dword ptr [r15 + 0x7c], eax
        call    read_status
        mov     dword ptr [r15 + 0x80], eax
        lea     eax, [r13 + 0x04]
        mov     cx, DECODE_IO_MEM
        call    cfg_write_command
        call    read_irr
        mov     dword ptr [r15 + 0x84], eax
        mov     dword ptr [rbx + INTERRUPT_REGISTER], 0
        call    read_irr
        mov     dword ptr [r15 + 0x88], eax
        call    read_status
        mov     dword ptr [r15 + 0x8c], eax
        mov     dword ptr [rbx + INTERRUPT_REGISTER], 1
        call    read_irr
        mov     dword ptr [r15 + 0x90], eax
        xor     eax, eax
        out     EXIT_PORT, al
        jmp     .

pci_probe:
        mov     r15, rdi
        mov     r12d, esi
        mov     r11d, edx                   # cfg_read clobbers dx
        xor     ebx, ebx
1:      mov     eax, ebx
        shl     eax, 11
        or      eax, ENABLE
        call    cfg_read
        cmp     eax, r12d
        je      2f
        inc     ebx
        cmp     ebx, 32
        jb      1b
        mov     dword ptr [r15], 0xffffffff
        mov     al, 1
        out     EXIT_PORT, al
        jmp     .
2:      mov     dword ptr [r15], ebx
        mov     r13d, ebx
        shl     r13d, 11
        or      r13d, ENABLE
        SET_BAR 0x10, r11d
        lea     eax, [r13 + 0x04]
        mov     cx, 0x2                     # memory decode
        call    cfg_write_command
        mov     ebx, r11d
        mov     eax, dword ptr [rbx]
        mov     dword ptr [r15 + 4], eax
        mov     eax, dword ptr [rbx]
        mov     dword ptr [r15 + 8], eax
        mov     eax, dword ptr [rbx]
        mov     dword ptr [r15 + 12], eax
        xor     eax, eax
        out     EXIT_PORT, al
        jmp     .

pci_helper:
        mov     r15, rdi
        mov     r14, rsi
1:      pause
        cmp     dword ptr [r14], 1
        jne     1b
        mov     r13d, dword ptr [r14 + 4]
        mov     ebx, BAR0_ADDR
        mov     eax, dword ptr [rbx]
        mov     dword ptr [r15 + 0x40], eax
        mov     eax, dword ptr [rbx + 0x10]
        mov     dword ptr [r15 + 0x44], eax
        SET_BAR 0x10, BAR0_MOVED
        mov     ecx, BAR0_MOVED
        mov     eax, dword ptr [rcx]
        mov     dword ptr [r15 + 0x48], eax
        mov     dword ptr [rcx + 0x14], 0xcafef00d
        mov     eax, dword ptr [rbx]
        mov     dword ptr [r15 + 0x4c], eax
        mov     dword ptr [r14], 2
2:      pause
        jmp     2b
