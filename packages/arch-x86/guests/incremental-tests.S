# incremental-tests — writes a known set of pages, stops, and writes a smaller set, for the
# incremental-checkpoint suite and the checkpoint benchmark: between two stops the guest
# changes exactly the pages it is told to, and nothing else (no stack, no data of its own).
#
# Contract
#   mode     64-bit long mode, CPL0 (longModeSetup({ cpl: 0 })). Load 0x8000, rip = touch_pages
#            (= _start).
#   in       rdi = first page (identity-mapped, 4 KiB aligned), rsi = pages to write in the first
#            pass (≥ 1), rcx = pages to write in every later pass (≥ 1), rdx = value,
#            r8 = stride in bytes between written pages (a multiple of 4096).
#   does     pass: writes the value to the first qword of rsi pages, rdi + i * r8, then
#            `out 0x10, al` (stop point: no device, one userspace exit), then `out 0x12, al`
#            (the first instruction after a stop: one exit, the marker a restore is timed to).
#            Then value += 1, rsi = rcx, and the next pass. Runs until the host stops it.
#   pages    a pass touches exactly its pages: it writes no stack and no other memory. Its page
#            walk sets accessed/dirty bits only on the first write to each large page, so the
#            first pass must cover every page a later pass writes.

        .intel_syntax noprefix
        .code64

        .set STOP_PORT, 0x10
        .set MARK_PORT, 0x12

        .text
        .globl _start, touch_pages
_start:
touch_pages:
        mov     rbx, rdi                    # page pointer
        mov     r9, rsi                     # pages left in this pass
pass:
        mov     qword ptr [rbx], rdx
        add     rbx, r8
        dec     r9
        jnz     pass
        out     STOP_PORT, al
        out     MARK_PORT, al
        inc     rdx
        mov     rsi, rcx
        jmp     touch_pages
