/**
 * Golden bytes for the state codecs beyond regs/sregs: kvm_fpu and the FXSAVE legacy region,
 * kvm_debugregs, kvm_xcrs, kvm_vcpu_events, kvm_msrs. Expected bytes are little-endian hex
 * written field by field in C struct order, so they do not depend on the code they test; every
 * codec also reproduces KVM's bytes exactly after a decode (bit for bit).
 */
import {
  X86DebugregsLayout,
  X86FpuLayout,
  X86VcpuEventsLayout,
  X86XcrsLayout,
  decodeDebugRegs,
  decodeFpu,
  decodeFxsave,
  decodeMsrIndexList,
  decodeMsrValues,
  decodeVcpuEvents,
  decodeXcrs,
  encodeDebugRegs,
  encodeFpu,
  encodeFxsave,
  encodeMsrs,
  encodeVcpuEvents,
  encodeXcrs,
  msrsBytes,
  type X86Fpu,
  type X86VcpuEvents,
} from '@kvmts/arch-x86';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const u64 = (v: bigint) => Buffer.from(new BigUint64Array([v]).buffer).toString('hex');
const u128 = (v: bigint) => u64(v & ((1n << 64n) - 1n)) + u64(v >> 64n);
const zeros = (n: number) => '00'.repeat(n);

const fpu: X86Fpu = {
  // ST0 = 1.0 (exponent 0x3fff, integer bit set), ST7 = -2.5, others empty
  fpr: [0x3fff_8000000000000000n, 0n, 0n, 0n, 0n, 0n, 0n, 0xc000_a000000000000000n],
  fcw: 0x37f,
  fsw: 0x3800,
  ftwx: 0x81,
  lastOpcode: 0x7e9,
  lastIp: 0x401000n,
  lastDp: 0x7ffc0010n,
  xmm: Array.from({ length: 16 }, (_, i) => (BigInt(i + 1) << 120n) | BigInt(i)),
  mxcsr: 0x1f80,
};
const xmmHex = fpu.xmm.map(u128).join('');
const fprHex = fpu.fpr.map(u128).join('');

describe('kvm_fpu and the FXSAVE legacy region', () => {
  const golden = hex(fprHex + '7f03' + '0038' + '81' + '00' + 'e907' + u64(0x401000n) + u64(0x7ffc0010n) + xmmHex + '801f0000' + '00000000');

  it('encodes kvm_fpu field by field (padding zero) and decodes it back', () => {
    const b = new Uint8Array(X86FpuLayout.size).fill(0xcc);
    encodeFpu(fpu, view(b));
    expect(toHex(b)).toBe(toHex(golden));
    expect(decodeFpu(view(golden))).toEqual(fpu);
  });

  it('moves the same fields to and from FXSAVE offsets, keeping 80-bit registers whole', () => {
    const region = new Uint8Array(512);
    region.set(hex('ffff0000'), 28); // MXCSR_MASK: not kvm_fpu's, left alone by encodeFxsave
    encodeFxsave(fpu, view(region));
    const expected = '7f03' + '0038' + '81' + '00' + 'e907' + u64(0x401000n) + u64(0x7ffc0010n) + '801f0000' + 'ffff0000' + fprHex + xmmHex + zeros(96);
    expect(toHex(region)).toBe(expected);
    expect(decodeFxsave(view(region))).toEqual({ ...fpu, mxcsrMask: 0xffff });
  });
});

describe('kvm_debugregs', () => {
  it('encodes DR0–DR3, DR6, DR7, flags and zero reserved words; decodes them back', () => {
    const regs = { db: [0x1000n, 0x2000n, 0x3000n, 0xffffffff81000000n], dr6: 0xffff0ff0n, dr7: 0x400n, flags: 0n };
    const b = new Uint8Array(X86DebugregsLayout.size).fill(0xcc);
    encodeDebugRegs(regs, view(b));
    expect(toHex(b)).toBe(regs.db.map(u64).join('') + u64(0xffff0ff0n) + u64(0x400n) + u64(0n) + zeros(72));
    expect(decodeDebugRegs(view(b))).toEqual(regs);
  });
});

describe('kvm_xcrs', () => {
  it('encodes nr_xcrs, flags 0 and each {xcr, reserved, value}; an empty list is valid', () => {
    const b = new Uint8Array(X86XcrsLayout.size).fill(0xcc);
    encodeXcrs([{ index: 0, value: 0x207n }], view(b));
    expect(toHex(b)).toBe('01000000' + '00000000' + '00000000' + '00000000' + u64(0x207n) + zeros(392 - 24));
    expect(decodeXcrs(view(b))).toEqual([{ index: 0, value: 0x207n }]);
    encodeXcrs([], view(b));
    expect(decodeXcrs(view(b))).toEqual([]);
  });
});

describe('kvm_vcpu_events', () => {
  const events: X86VcpuEvents = {
    exception: { injected: 1, nr: 14, hasErrorCode: 1, pending: 0, errorCode: 0x6 },
    interrupt: { injected: 1, nr: 0x20, soft: 0, shadow: 2 },
    nmi: { injected: 0, pending: 1, masked: 1 },
    sipiVector: 0x9a,
    flags: 0x1d,
    smi: { smm: 0, pending: 1, smmInsideNmi: 0, latchedInit: 1 },
    tripleFaultPending: 0,
    exceptionHasPayload: 1,
    exceptionPayload: 0xdeadbeef000n,
  };
  const golden = hex('01 0e 01 00 06000000' + '01 20 00 02' + '00 01 01 00' + '9a000000' + '1d000000' + '00 01 00 01' + '00' + zeros(26) + '01' + u64(0xdeadbeef000n));

  it('encodes every member at its offset (reserved bytes zero) and decodes it back', () => {
    const b = new Uint8Array(X86VcpuEventsLayout.size).fill(0xcc);
    encodeVcpuEvents(events, view(b));
    expect(toHex(b)).toBe(toHex(golden));
    expect(decodeVcpuEvents(view(golden))).toEqual(events);
  });
});

describe('kvm_msrs and kvm_msr_list', () => {
  it('encodes the header and inline entries; decodes the values KVM wrote back', () => {
    const b = new Uint8Array(msrsBytes(2)).fill(0xcc);
    encodeMsrs([{ index: 0x10, value: 5n }, { index: 0xc0000082, value: 0xffffffff81000000n }], view(b));
    expect(toHex(b)).toBe('02000000' + '00000000' + '10000000' + '00000000' + u64(5n) + '820000c0' + '00000000' + u64(0xffffffff81000000n));
    b.set(hex(u64(7n)), 16);
    const out = [{ index: 0x10, value: 0n }, { index: 0xc0000082, value: 0n }];
    decodeMsrValues(view(b), out);
    expect(out.map((m) => m.value)).toEqual([7n, 0xffffffff81000000n]);
  });

  it('decodes a kvm_msr_list', () => {
    expect(decodeMsrIndexList(view(hex('02000000' + '74010000' + '820000c0')))).toEqual([0x174, 0xc0000082]);
  });
});
