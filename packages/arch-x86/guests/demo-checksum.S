# demo-checksum — CRC-32 of a buffer the host filled, printed on COM1.
#
# Contract
#   mode     64-bit long mode at CPL3: longModeSetup({ cpl: 3, ... }) — IOPL 3, U/S page tables.
#            Also correct at CPL0, but there every instruction is emulated on PVM hosts (slow).
#   load     linked and loaded at 0x8000 (GUEST_LAYOUT.code); entry `_start`.
#   in       rdi = buffer address (identity-mapped, readable), rsi = length in bytes,
#            rsp = a writable stack with at least 256 bytes below it.
#   does     builds its CRC table (1 KiB, `crc_table`, inside its own image — the image must be
#            writable), computes CRC-32 (IEEE 802.3, reflected, as Node's zlib.crc32), prints
#              kvmts demo guest: crc32(<length> bytes) = 0x<8 lowercase hex digits>\n
#            on the UART at 0x3f8, polling LSR.THRE before every byte like a real driver,
#            Half-way through the buffer (after length/2 bytes) it asks for a checkpoint once with
#            gem5's checkpoint m5op (0x43) through kvmts' port doorbell (`out 0x58, eax`; delay and
#            period 0): `kvmts run` saves the machine there and finishes it in a restored one.
#            Without a doorbell device the write goes nowhere and the guest carries on.
#            writes the CRC to the exit device's result register (port 0xf8, 4 bytes),
#            then exit status 0 to the exit device (port 0xf4, 1 byte).
#   out      at the exit write: ebx = the CRC, r12 = buffer address, r13 = length.
#            If resumed after the exit write it spins (`jmp .`), harmless at CPL3.

        .intel_syntax noprefix
        .code64

        .set UART_THR, 0x3f8
        .set UART_LSR, 0x3fd
        .set LSR_THRE, 0x20
        .set EXIT_PORT, 0xf4
        .set RESULT_PORT, 0xf8
        .set CRC32_POLY, 0xedb88320     # bit-reversed 0x04c11db7
        .set M5OP_DOORBELL, 0x58        # kvmts' m5op doorbell port (eax = op, args in rdi, rsi)
        .set M5OP_CHECKPOINT, 0x43      # gem5's checkpoint(delay, period)

        .text
        .globl _start
_start:
        cld
        mov     r12, rdi
        mov     r13, rsi
        call    build_table

        # crc = ~0; for each byte: crc = table[(crc ^ b) & 0xff] ^ (crc >> 8); crc = ~crc
        mov     eax, 0xffffffff
        mov     rsi, r12
        mov     rcx, r13
        lea     r8, [rip + crc_table]
        mov     r14, r13                # r14 = bytes left when the checkpoint is asked for
        shr     r14, 1
        test    rcx, rcx
        jz      2f
1:      cmp     rcx, r14
        jne     3f
        call    checkpoint_m5op
3:      movzx   edx, byte ptr [rsi]
        xor     dl, al
        shr     eax, 8
        xor     eax, [r8 + rdx*4]
        inc     rsi
        dec     rcx
        jnz     1b
2:      not     eax
        mov     ebx, eax

        lea     rsi, [rip + msg_prefix]
        call    puts
        mov     rax, r13
        call    put_dec
        lea     rsi, [rip + msg_middle]
        call    puts
        mov     eax, ebx
        call    put_hex32
        mov     al, 10
        call    putc

        mov     eax, ebx
        mov     dx, RESULT_PORT
        out     dx, eax
        xor     eax, eax
        out     EXIT_PORT, al
        jmp     .

# checkpoint_m5op: gem5's checkpoint(0, 0) through the doorbell. Preserves everything but flags.
checkpoint_m5op:
        push    rax
        push    rdi
        push    rsi
        xor     edi, edi
        xor     esi, esi
        mov     eax, M5OP_CHECKPOINT
        out     M5OP_DOORBELL, eax
        pop     rsi
        pop     rdi
        pop     rax
        ret

# table[n] = n shifted right 8 times, XORing the polynomial whenever a 1 falls out.
build_table:
        lea     rdi, [rip + crc_table]
        xor     ecx, ecx
1:      mov     eax, ecx
        mov     edx, 8
2:      shr     eax, 1
        jnc     3f
        xor     eax, CRC32_POLY
3:      dec     edx
        jnz     2b
        mov     [rdi + rcx*4], eax
        inc     ecx
        cmp     ecx, 256
        jb      1b
        ret

# putc: send al; waits for THR empty first. Preserves everything but flags.
putc:
        push    rdx
        push    rax
        mov     dx, UART_LSR
1:      in      al, dx
        test    al, LSR_THRE
        jz      1b
        pop     rax
        mov     dx, UART_THR
        out     dx, al
        pop     rdx
        ret

# puts: send the NUL-terminated string at rsi. Clobbers rsi, al.
puts:
1:      lodsb
        test    al, al
        jz      2f
        call    putc
        jmp     1b
2:      ret

# put_dec: send rax as unsigned decimal. Clobbers rax, rcx, rdx, rsi, rdi.
put_dec:
        sub     rsp, 32
        lea     rdi, [rsp + 31]
        mov     byte ptr [rdi], 0
        mov     ecx, 10
1:      xor     edx, edx
        div     rcx
        add     dl, '0'
        dec     rdi
        mov     [rdi], dl
        test    rax, rax
        jnz     1b
        mov     rsi, rdi
        call    puts
        add     rsp, 32
        ret

# put_hex32: send eax as 8 lowercase hex digits. Clobbers rax, rsi, r9, r10.
put_hex32:
        mov     r9d, eax
        mov     r10d, 8
        lea     rsi, [rip + hex_digits]
1:      rol     r9d, 4
        mov     eax, r9d
        and     eax, 0xf
        mov     al, [rsi + rax]
        call    putc
        dec     r10d
        jnz     1b
        ret

msg_prefix:
        .asciz  "kvmts demo guest: crc32("
msg_middle:
        .asciz  " bytes) = 0x"
hex_digits:
        .ascii  "0123456789abcdef"

        .balign 4
        .globl crc_table
crc_table:
        .skip   1024
