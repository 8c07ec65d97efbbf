# soak-loop — the guest of `npm run bench -- soak`: an endless loop of four userspace exits, each
# served by a real device of the machine, so a long run exercises every exit path the framework
# keeps state on (bus lookup, device state, console forwarding to the main thread).
#
#   mode     64-bit long mode, CPL0; identity map large enough to reach rdi.
#   load     0x8000; rip = _start.
#   in       rdi = GPA of a RAM region that is not a KVM slot (served over MMIO by core's
#            MemoryBackedDevice).
#   loop     ebx counts iterations; per iteration:
#              out 0xf8, eax          → KVM_EXIT_IO   exit device result register (PIO write)
#              mov [rdi], ebx         → KVM_EXIT_MMIO write to the MMIO-served RAM
#              mov ecx, [rdi]         → KVM_EXIT_MMIO read back from it
#              out dx(0x3f8), al      → KVM_EXIT_IO   UART 8250 THR (a console byte)
#   end      never: the host ends each slice with maxExits.

        .intel_syntax noprefix
        .code64

        .set RESULT_PORT, 0xf8
        .set UART_THR, 0x3f8

        .text
        .globl _start
_start:
        xor     ebx, ebx
        mov     edx, UART_THR
1:      mov     eax, ebx
        out     RESULT_PORT, eax
        mov     dword ptr [rdi], ebx
        mov     ecx, dword ptr [rdi]
        mov     al, '.'
        out     dx, al
        inc     ebx
        jmp     1b
