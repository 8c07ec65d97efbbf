# exit-loop — the guest of `npm run bench -- exits`: one userspace exit per loop iteration.
#
# The same bytes run under kvmts and under the C baseline (scripts/bench/baseline.c).
#   mode     64-bit long mode, CPL0 or CPL3 with IOPL 3 (longModeSetup({ cpl })). On the PVM host
#            CPL0 is emulated (the `dec; jnz` costs ~0.6 µs per iteration) and CPL3 is native, but
#            a CPL3 exit itself costs ~3.5× a CPL0 one; both sides run the same bytes either way.
#   load     0x8000; rip = the scenario's symbol.
#   in       rcx = number of loop exits (≥ 1); rdi = MMIO address (mmio_loop only: unbacked,
#            inside the identity map).
#   end      `out 0xf4, al` (the exit port), then `jmp .` if resumed.
#
# Scenarios
#   pio_loop   rcx × `out 0x10, al`            → KVM_EXIT_IO   (out, port 0x10, 1 byte)
#   mmio_loop  rcx × `mov dword ptr [rdi], eax` → KVM_EXIT_MMIO (write, 4 bytes at rdi)

        .intel_syntax noprefix
        .code64

        .set BENCH_PORT, 0x10
        .set EXIT_PORT, 0xf4

        .text
        .globl _start, pio_loop, mmio_loop
_start:
pio_loop:
        xor     eax, eax
1:      out     BENCH_PORT, al
        dec     rcx
        jnz     1b
        out     EXIT_PORT, al
        jmp     .

mmio_loop:
        xor     eax, eax
1:      mov     dword ptr [rdi], eax
        dec     rcx
        jnz     1b
        out     EXIT_PORT, al
        jmp     .
