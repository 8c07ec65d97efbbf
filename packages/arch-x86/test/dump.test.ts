/**
 * The eight state dumps from one table per section: the structured object and the text come
 * from the same rows (golden text for a known context), and the XSAVE dump finds components
 * through the context's own CPUID leaf 0xD.
 */
import { X86ThreadContext, X86_DUMP_SECTION_NAMES, formatX86Dump, x86Dump } from '@kvmts/arch-x86';

function context(): X86ThreadContext {
  const tc = new X86ThreadContext();
  tc.regs.rax = 0x1122334455667788n;
  tc.regs.rip = 0x8000n;
  tc.regs.rflags = 0x202n;
  Object.assign(tc.sregs.cs, { selector: 0x10, base: 0n, limit: 0xffffffff, type: 0xb, present: 1, s: 1, l: 1, g: 1 });
  tc.sregs.cr0 = 0x80000011n;
  tc.sregs.efer = 0x500n;
  const x = new DataView(tc.xsave.buffer);
  x.setUint16(0, 0x37f, true); // fcw
  x.setUint32(24, 0x1f80, true); // mxcsr
  x.setBigUint64(32, 0x8000000000000000n, true); // st0 = 1.0
  x.setUint16(40, 0x3fff, true);
  x.setBigUint64(160, 0x0123456789abcdefn, true); // xmm0 low
  x.setBigUint64(512, 0x7n, true); // XSTATE_BV: x87 sse avx
  x.setBigUint64(576, 0xfeedn, true); // ymm0 upper half
  tc.cpuid.push({ function: 0xd, index: 2, flags: 1, eax: 256, ebx: 576, ecx: 0, edx: 0 });
  tc.xcrs.push({ index: 0, value: 7n });
  tc.debugRegs.db[0] = 0x401000n;
  tc.debugRegs.dr7 = 0x401n;
  Object.assign(tc.events.exception, { injected: 1, nr: 14, hasErrorCode: 1, errorCode: 2 });
  tc.events.flags = 0x5;
  tc.msrs.push({ index: 0x10, value: 123456n }, { index: 0x277, value: 0x0007040600070406n });
  return tc;
}

describe('x86 state dumps', () => {
  it('has the eight sections gem5 offers', () => {
    expect(X86_DUMP_SECTION_NAMES).toEqual(['integer', 'special', 'fpu', 'xsave', 'xcrs', 'debug', 'events', 'msrs']);
  });

  it('structured: values keyed by register, bigints kept', () => {
    const d = x86Dump(context());
    expect(d.integer!.rax).toBe(0x1122334455667788n);
    expect(d.special!.cs).toMatchObject({ selector: 0x10, l: 1 });
    expect(d.special!.efer).toBe(0x500n);
    expect(d.fpu!.fcw).toBe(0x37f);
    expect(d.fpu!.st0).toBe(0x3fff8000000000000000n);
    expect(d.xsave!['ymm0.hi128']).toBe(0xfeedn);
    expect(d.xcrs!.xcr0).toBe(7n);
    expect(d.debug!.dr0).toBe(0x401000n);
    expect(d.events!.exception).toEqual({ injected: 1, nr: 14, has_error_code: 1, pending: 0, error_code: 2 });
    expect(d.msrs!['0x00000277']).toEqual({ name: 'PAT', value: 0x0007040600070406n });
  });

  it('text: a title per section and one "key: value" per row (golden)', () => {
    const text = formatX86Dump(context(), ['integer', 'xsave', 'xcrs', 'debug', 'events', 'msrs']);
    expect(text).toBe(
      [
        '== integer registers ==',
        '   rax: 0x1122334455667788     rbx: 0x0000000000000000     rcx: 0x0000000000000000     rdx: 0x0000000000000000',
        '   rsi: 0x0000000000000000     rdi: 0x0000000000000000     rsp: 0x0000000000000000     rbp: 0x0000000000000000',
        '    r8: 0x0000000000000000      r9: 0x0000000000000000     r10: 0x0000000000000000     r11: 0x0000000000000000',
        '   r12: 0x0000000000000000     r13: 0x0000000000000000     r14: 0x0000000000000000     r15: 0x0000000000000000',
        '   rip: 0x0000000000008000  rflags: 0x0000000000000202',
        '== XSAVE area ==',
      ].join('\n') + '\n' + formatX86Dump(context(), ['xsave'], { titles: false }) + '\n' + [
        '== extended control registers ==',
        'xcr0: 0x0000000000000007 (x87 sse avx)',
        '== debug registers ==',
        'dr0: 0x0000000000401000  dr1: 0x0000000000000000  dr2: 0x0000000000000000  dr3: 0x0000000000000000',
        'dr6: 0x0000000000000000  dr7: 0x0000000000000401',
        '== vCPU events ==',
        '           exception: injected=1 nr=14 has_error_code=1 pending=0 error_code=2',
        '           interrupt: injected=0 nr=0 soft=0 shadow=0',
        '                 nmi: injected=0 pending=0 masked=0',
        '                 smi: smm=0 pending=0 smm_inside_nmi=0 latched_init=0',
        '         sipi_vector: 0x00                 flags: 0x05 (NMI_PENDING|SHADOW)  triple_fault_pending: 0',
        '   exception_payload: has_payload=0 payload=0x0',
        '== model-specific registers ==',
        '0x00000010: TSC                      0x000000000001e240',
        '0x00000277: PAT                      0x0007040600070406',
      ].join('\n'),
    );
  });

  it('XSAVE text: header, then each component present, at its CPUID offset, with its registers', () => {
    const lines = formatX86Dump(context(), ['xsave'], { titles: false }).split('\n');
    expect(lines.slice(0, 3)).toEqual([
      '  xstate_bv: 0x0000000000000007 (x87 sse avx)     xcomp_bv: 0x0000000000000000        bytes: 4096',
      '        avx: offset=576 size=256',
      ' ymm0.hi128: 0x0000000000000000000000000000feed   ymm1.hi128: 0x00000000000000000000000000000000',
    ]);
    expect(lines).toHaveLength(2 + 8);
  });

  it('FPU text: x87 registers as sign+exponent:mantissa with an approximate value, XMM as 128 bits', () => {
    const text = formatX86Dump(context(), ['fpu'], { titles: false });
    expect(text).toContain('st0: 0x3fff:8000000000000000 (≈ 1)');
    expect(text).toContain('xmm0: 0x00000000000000000123456789abcdef');
    expect(text).toContain('fcw: 0x037f');
    expect(text).toContain('mxcsr: 0x00001f80');
  });

  it('special text keeps the segment and control-register forms GuestError dumps show', () => {
    const text = formatX86Dump(context(), ['special'], { titles: false });
    expect(text).toMatch(/ cs: sel=0x0010 base=0x0000000000000000 limit=0xffffffff type=0xb p=1 dpl=0 db=0 s=1 l=1 g=1 avl=0 unusable=0/);
    expect(text).toMatch(/cr0: 0x0000000080000011/);
    expect(text).toMatch(/efer: 0x0000000000000500/);
  });
});
