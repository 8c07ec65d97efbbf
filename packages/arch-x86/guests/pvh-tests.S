# pvh-tests — a PVH test kernel: an ELF with a XEN_ELFNOTE_PHYS32_ENTRY note, reporting the
# hvm_start_info it was handed.
#
# Contract
#   format   ELF64 like Linux's vmlinux (assembleGuestElf('pvh-tests', { loadAddress: 0x200000,
#            elfClass: 64 })), booted with `boot: { kind: 'kernel' }`; the entry is `pvh_start`,
#            named by the note (type 18, name "Xen", an 8-byte value). `_start` is a `ud2`: an
#            ELF loader that entered at e_entry instead would triple-fault.
#            (The flat prebuilt copy exists only because every guest has one; it is not bootable.)
#   mode     as PVH leaves it: flat 32-bit protected mode, paging off, EBX = hvm_start_info.
#   devices  a report port at 0x10 (each 4-byte write recorded), the UART at 0x3f8, the exit
#            device at 0xf4/0xf8.
#   reports  in order: EBX; magic; version; nr_modules; modlist[0].paddr (low 32 bits);
#            modlist[0].size (low 32 bits); the byte sum of the module (mod 2^32);
#            memmap_entries; the bytes of type-1 (RAM) memmap entries (mod 2^32); CR0; CS;
#            the low dword of RFLAGS (IF must be 0). (12 reports)
#   console  the command line (cmdline_paddr) then "\n".
#   ends     result register (port 0xf8) = 12, then status 0 (`out 0xf4, al`); a bad magic ends
#            with status 1. Spins (hlt loop) if resumed.

        .intel_syntax noprefix
        .code32

        .set REPORT_PORT, 0x10
        .set COM1, 0x3f8
        .set EXIT_PORT, 0xf4
        .set RESULT_PORT, 0xf8

        .macro REPORT reg
        mov     eax, \reg
        out     REPORT_PORT, eax
        .endm

        # The PVH entry note, as Linux writes it (arch/x86/platform/pvh/head.S): name "Xen",
        # type XEN_ELFNOTE_PHYS32_ENTRY (18), the entry's physical address as 8 bytes.
        .section .note.Xen, "a", @note
        .align 4
        .long   4, 8, 18
        .asciz  "Xen"
        .align 4
        .quad   pvh_start

        .text
        .globl _start
_start:
        ud2

        .globl pvh_start
pvh_start:
        mov     esp, offset stack_top
        mov     esi, ebx                        # esi = hvm_start_info
        cmp     dword ptr [esi], 0x336ec578
        jne     bad_magic
        REPORT  ebx
        REPORT  [esi]                           # magic
        REPORT  [esi + 4]                       # version
        REPORT  [esi + 12]                      # nr_modules
        mov     edx, [esi + 16]                 # modlist_paddr (below 4 GiB)
        REPORT  [edx]                           # modlist[0].paddr
        REPORT  [edx + 8]                       # modlist[0].size
        mov     ecx, [edx]
        mov     edi, ecx
        add     edi, [edx + 8]
        xor     ebx, ebx
module_sum:
        cmp     ecx, edi
        jae     module_done
        movzx   eax, byte ptr [ecx]
        add     ebx, eax
        inc     ecx
        jmp     module_sum
module_done:
        REPORT  ebx
        REPORT  [esi + 48]                      # memmap_entries
        # memmap entries: addr u64, size u64, type u32, reserved u32 (24 bytes).
        mov     ecx, [esi + 40]                 # memmap_paddr
        mov     edi, [esi + 48]
        xor     ebp, ebp
memmap_walk:
        test    edi, edi
        jz      memmap_done
        cmp     dword ptr [ecx + 16], 1
        jne     memmap_next
        add     ebp, [ecx + 8]
memmap_next:
        add     ecx, 24
        dec     edi
        jmp     memmap_walk
memmap_done:
        REPORT  ebp
        mov     eax, cr0
        REPORT  eax
        xor     eax, eax
        mov     ax, cs
        REPORT  eax
        pushfd
        pop     eax
        REPORT  eax
        mov     edi, [esi + 24]                 # cmdline_paddr
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
        mov     eax, 12
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
