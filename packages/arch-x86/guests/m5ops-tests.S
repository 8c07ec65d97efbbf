# m5ops-tests — gem5's pseudo-instructions from a guest, in both x86 calling conventions.
#
# Contract (all scenarios)
#   mode     64-bit long mode at CPL0 (longModeSetup({ cpl: 0 })), with the m5op window mapped:
#            boot.mapBytes = 4 GiB (the window is at 0xFFFF0000).
#   load     0x8000 (GUEST_LAYOUT.code); rip = the scenario's symbol.
#   devices  m5ops window at 0xFFFF0000 and doorbell at port 0x58 (`m5ops()`), a report port at
#            0x10 that records every 4-byte write, the exit device at 0xf4.
#   report   REPORT writes a 64-bit value to port 0x10 as two dwords, low first.
#   calls    WINDOW func: rax ← qword [0xFFFF0000 + (func << 8)]  (gem5's util/m5 convention)
#            DOORBELL func: eax ← func; out 0x58, eax; the result arrives in rax
#            Arguments are in rdi, rsi, rdx, rcx, r8, r9. rax holds a sentinel before each call,
#            so a result that never arrived shows up in the report.
#   end      exit device write of status 0 (`out 0xf4, al`), then `jmp .` if resumed — unless
#            the scenario ends with an m5op that ends the run (exit, fail).
#
# Scenarios
#   all_ops       Every m5op kvmts carries out, once through the window, then once through the
#                 doorbell; per form (w = 0 for the window, 1 for the doorbell), in this order,
#                 reporting rax after each:
#                   resetstats(0, 0); workbegin(7 + 4w, 3 + w); dumpstats(0, 0);
#                   workend(7 + 4w, 3 + w); dumpresetstats(0, 0);
#                   checkpoint(0x11 + 0x100w, 0x22 + 0x100w);
#                   switchcpu() with rdi = 0x33 + 0x100w (no arguments: shows the registers pass);
#                   readfile(rf_buf + 0x40w, 16 + 48w, 4 + 16w);
#                   writefile(wf_data + 6w, 6 - w, 6w, wf_name)   — "hello " then "world" at 6
#                 then exit(0x99) through the window when r15 = 0, through the doorbell otherwise.
#                 18 reports (36 dwords). rf_buf (0x80 bytes) holds what readfile copied.
#   fail_op       in: r15 = 0 window / 1 doorbell. fail(delay 5, code 42).
#   unknown_op    in: r15 = 0: window func 0x99 (no gem5 op); 1: doorbell eax = 0x1234.
#   readfile_at   in: rdi, rsi, rdx = readfile's arguments. Window readfile; report rax; exit.
#   writefile_at  in: rdi, rsi, rdx, rcx = writefile's arguments. Doorbell writefile; report rax; exit.
#   io_loop       `out 0x12, al` forever (a port with no device): a vCPU that keeps exiting while
#                 another one's m5op is being handled.

        .intel_syntax noprefix
        .code64

        .set REPORT_PORT, 0x10
        .set EXIT_PORT, 0xf4
        .set DOORBELL, 0x58
        .set WINDOW_BASE, 0xffff0000
        .set SENTINEL, 0x5a5a5a5a5a5a5a5a

        .set F_EXIT, 0x21
        .set F_FAIL, 0x22
        .set F_RESETSTATS, 0x40
        .set F_DUMPSTATS, 0x41
        .set F_DUMPRESETSTATS, 0x42
        .set F_CHECKPOINT, 0x43
        .set F_WRITEFILE, 0x4f
        .set F_READFILE, 0x50
        .set F_SWITCHCPU, 0x52
        .set F_WORKBEGIN, 0x5a
        .set F_WORKEND, 0x5b

        .macro WINDOW func
        movabs  rax, SENTINEL
        movabs  r11, WINDOW_BASE + (\func << 8)
        mov     rax, qword ptr [r11]
        .endm

        .macro DOORBELL func
        movabs  rax, SENTINEL
        mov     eax, \func
        out     DOORBELL, eax
        .endm

        .macro REPORT
        mov     r10, rax
        out     REPORT_PORT, eax
        shr     r10, 32
        mov     eax, r10d
        out     REPORT_PORT, eax
        .endm

        .macro EXIT_OK
        xor     eax, eax
        out     EXIT_PORT, al
        jmp     .
        .endm

        # One form's pass over every op: CALL is WINDOW or DOORBELL, W is 0 or 1.
        .macro ALL_OPS CALL, W
        xor     edi, edi
        xor     esi, esi
        \CALL   F_RESETSTATS
        REPORT
        mov     edi, 7 + 4 * \W
        mov     esi, 3 + \W
        \CALL   F_WORKBEGIN
        REPORT
        xor     edi, edi
        xor     esi, esi
        \CALL   F_DUMPSTATS
        REPORT
        mov     edi, 7 + 4 * \W
        mov     esi, 3 + \W
        \CALL   F_WORKEND
        REPORT
        xor     edi, edi
        xor     esi, esi
        \CALL   F_DUMPRESETSTATS
        REPORT
        mov     edi, 0x11 + 0x100 * \W
        mov     esi, 0x22 + 0x100 * \W
        \CALL   F_CHECKPOINT
        REPORT
        mov     edi, 0x33 + 0x100 * \W
        \CALL   F_SWITCHCPU
        REPORT
        lea     rdi, [rip + rf_buf + 0x40 * \W]
        mov     esi, 16 + 48 * \W
        mov     edx, 4 + 16 * \W
        \CALL   F_READFILE
        REPORT
        lea     rdi, [rip + wf_data + 6 * \W]
        mov     esi, 6 - \W
        mov     edx, 6 * \W
        lea     rcx, [rip + wf_name]
        \CALL   F_WRITEFILE
        REPORT
        .endm

        .text
        .globl _start, all_ops
_start:
all_ops:
        ALL_OPS WINDOW, 0
        ALL_OPS DOORBELL, 1
        mov     edi, 0x99
        test    r15, r15
        jnz     1f
        WINDOW  F_EXIT
        jmp     .
1:      DOORBELL F_EXIT
        jmp     .

        .globl fail_op
fail_op:
        mov     edi, 5
        mov     esi, 42
        test    r15, r15
        jnz     1f
        WINDOW  F_FAIL
        jmp     .
1:      DOORBELL F_FAIL
        jmp     .

        .globl unknown_op
unknown_op:
        test    r15, r15
        jnz     1f
        WINDOW  0x99
        REPORT
        EXIT_OK
1:      DOORBELL 0x1234
        REPORT
        EXIT_OK

        .globl readfile_at
readfile_at:
        WINDOW  F_READFILE
        REPORT
        EXIT_OK

        .globl writefile_at
writefile_at:
        DOORBELL F_WRITEFILE
        REPORT
        EXIT_OK

        .globl io_loop
io_loop:
        out     0x12, al
        jmp     io_loop

        .data
        .balign 16
        .globl rf_buf, wf_data, wf_name
rf_buf:
        .space  0x80
wf_data:
        .ascii  "hello world"
wf_name:
        .asciz  "guest-out.txt"
