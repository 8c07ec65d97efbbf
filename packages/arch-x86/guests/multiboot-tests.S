# multiboot-tests — a Multiboot (v1) test kernel: what the loader handed over, reported.
#
# Contract
#   format   ELF32 (assembleGuestElf('multiboot-tests', { loadAddress: 0x100000, elfClass: 32 })),
#            booted with `boot: { kind: 'kernel' }`: a Multiboot header (flags 3: page-aligned
#            modules, memory information) at the start of .text, in the first 8 KiB of the file.
#            (The flat prebuilt copy exists only because every guest has one; it is not bootable.)
#   mode     as Multiboot leaves it: flat 32-bit protected mode, paging off, EAX = 0x2BADB002,
#            EBX = multiboot_info.
#   devices  a report port at 0x10 (each 4-byte write recorded), the UART at 0x3f8, the exit
#            device at 0xf4/0xf8.
#   reports  in order: EAX at entry; EBX; info.flags; mem_lower; mem_upper; mods_count;
#            mod_start; mod_end; the byte sum of the module (mod 2^32); the first 4 bytes of the
#            module's string; the number of mmap entries; the bytes of type-1 (RAM) entries
#            (mod 2^32); the first 4 bytes of the boot loader name; CR0; CS. (15 reports)
#   console  the command line (info.cmdline) then "\n", polling LSR.THRE before each byte.
#   ends     result register (port 0xf8) = 15, then `out 0xf4, al` with al = 0 (status 0);
#            with EAX ≠ 0x2BADB002 at entry: status 1 straight away. Spins (hlt loop) if resumed.

        .intel_syntax noprefix
        .code32

        .set MB_MAGIC, 0x1badb002
        .set MB_FLAGS, 0x3
        .set REPORT_PORT, 0x10
        .set COM1, 0x3f8
        .set EXIT_PORT, 0xf4
        .set RESULT_PORT, 0xf8

        .macro REPORT reg
        mov     eax, \reg
        out     REPORT_PORT, eax
        .endm

        .section .multiboot, "a"
        .align 4
mb_header:
        .long   MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

        .text
        .globl _start
_start:
        mov     esp, offset stack_top
        cmp     eax, 0x2badb002
        jne     bad_magic
        REPORT  eax
        REPORT  ebx
        mov     esi, ebx                        # esi = multiboot_info for the rest
        REPORT  [esi]                           # flags
        REPORT  [esi + 4]                       # mem_lower
        REPORT  [esi + 8]                       # mem_upper
        REPORT  [esi + 20]                      # mods_count
        mov     edx, [esi + 24]                 # mods_addr
        REPORT  [edx]                           # mod_start
        REPORT  [edx + 4]                       # mod_end
        mov     ecx, [edx]
        xor     ebx, ebx
module_sum:
        cmp     ecx, [edx + 4]
        jae     module_done
        movzx   eax, byte ptr [ecx]
        add     ebx, eax
        inc     ecx
        jmp     module_sum
module_done:
        REPORT  ebx
        mov     eax, [edx + 8]                  # the module's string
        REPORT  [eax]
        # The memory map: entries of (size, base u64, length u64, type); the next starts size + 4 on.
        mov     ecx, [esi + 48]                 # mmap_addr
        mov     edi, ecx
        add     edi, [esi + 44]                 # its end
        xor     ebx, ebx                        # entries
        xor     ebp, ebp                        # RAM bytes
mmap_walk:
        cmp     ecx, edi
        jae     mmap_done
        inc     ebx
        cmp     dword ptr [ecx + 20], 1
        jne     mmap_next
        add     ebp, [ecx + 12]
mmap_next:
        add     ecx, [ecx]
        add     ecx, 4
        jmp     mmap_walk
mmap_done:
        REPORT  ebx
        REPORT  ebp
        mov     eax, [esi + 64]                 # boot_loader_name
        REPORT  [eax]
        mov     eax, cr0
        REPORT  eax
        xor     eax, eax
        mov     ax, cs
        REPORT  eax
        # The command line on the console.
        mov     edi, [esi + 16]
print:
        mov     bl, [edi]
        test    bl, bl
        jz      print_done
        call    putc
        inc     edi
        jmp     print
print_done:
        mov     bl, 0x0a
        call    putc
        mov     eax, 15
        out     RESULT_PORT, eax
        xor     eax, eax
        out     EXIT_PORT, al
        jmp     halt

bad_magic:
        mov     al, 1
        out     EXIT_PORT, al
halt:
        hlt
        jmp     halt

# putc: bl → the UART, once LSR.THRE (bit 5) says the transmitter is empty. Clobbers eax, edx.
putc:
        mov     dx, COM1 + 5
1:      in      al, dx
        test    al, 0x20
        jz      1b
        mov     dx, COM1
        mov     al, bl
        out     dx, al
        ret

        .bss
        .align 16
        .skip   1024
stack_top:
