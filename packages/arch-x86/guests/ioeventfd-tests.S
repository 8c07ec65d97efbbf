# ioeventfd-tests — guest writes KVM turns into eventfd signals (KVM_IOEVENTFD) without an exit,
# across a checkpoint: the host registers the ioeventfds while the machine runs, saves it at the
# guest's checkpoint m5op, restores, and the doorbells must still ring
# (checkpoint-ioeventfd.kvm.test.ts).
#
# Contract
#   mode     64-bit long mode, CPL0, load 0x8000, rip = doorbells (= _start). r12 = an MMIO
#            address (no memory behind it; identity-mapped: boot with mapBytes covering it).
#   devices  the m5op doorbell at port 0x58 (`m5ops()`), the exit device at 0xf4/0xf8.
#   does     the checkpoint m5op (rdi = rsi = 0: now, no period; the host ends the run there and
#            saves); then `out 0x10, al` with al = 0x5a (1 byte); dword [r12] ← 0x1234 (4 bytes);
#            `out 0x10, al` with al = 0x5b (1 byte); result = 0x10ef; end.
#   end      the result register (port 0xf8, 4 bytes), then `out 0xf4, al` with al = 0, then
#            `jmp .`.
#   host     an ioeventfd on port 0x10, length 1, datamatch 0x5a counts one signal (the 0x5b write
#            does not match it: it exits to userspace, where no device claims it); one on [r12],
#            length 4, counts one.

        .intel_syntax noprefix
        .code64

        .set EXIT_PORT, 0xf4
        .set RESULT_PORT, 0xf8
        .set DOORBELL, 0x58
        .set BELL_PORT, 0x10
        .set F_CHECKPOINT, 0x43

        .text
        .globl _start, doorbells
_start:
doorbells:
        xor     edi, edi
        xor     esi, esi
        mov     eax, F_CHECKPOINT
        out     DOORBELL, eax
        mov     al, 0x5a
        out     BELL_PORT, al
        mov     dword ptr [r12], 0x1234
        mov     al, 0x5b
        out     BELL_PORT, al
        mov     eax, 0x10ef
        out     RESULT_PORT, eax
        xor     eax, eax
        out     EXIT_PORT, al
        jmp     .
