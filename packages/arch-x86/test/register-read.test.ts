/**
 * The cheap register paths as pure logic: kvm_regs as 18 words (the codec the state sync uses),
 * the sync-regs area read lazily (nothing copied when KVM_RUN returns; a group read out when it
 * is first read), and X86StateSync.readRegister — one register without decoding the context —
 * on the fake vCPU of support/fake-vcpu.ts, against what KVM holds and what the context shows.
 */
import { KvmRunLayout } from '@kvmts/core';
import {
  GROUP_BIT,
  SyncRegsArea,
  X86_GPR_NAMES,
  X86_REG_WORD,
  X86_REGS_WORDS,
  X86StateSync,
  createX86Regs,
  decodeRegs,
  decodeRegsWords,
  encodeRegsWords,
  type X86StateCaps,
  type X86SyncRegsGroup,
} from '@kvmts/arch-x86';
import { FakeVcpu, SYNC_CAPS } from './support/fake-vcpu';

/** kvm_run.s.regs and its RFLAGS byte. */
const AREA = 304;
const AREA_RFLAGS = AREA + 136;
const RAX = 0;
const RBX = 8;
const RIP = 128;
const RFLAGS = 136;

describe('kvm_regs as words', () => {
  it('places every register at its word: kvm_regs order, rip word 16, rflags word 17', () => {
    expect(X86_REGS_WORDS).toBe(18);
    expect(X86_GPR_NAMES.map((n) => X86_REG_WORD[n])).toEqual(Array.from({ length: 18 }, (_, i) => i));
    expect([X86_REG_WORD.rip, X86_REG_WORD.rflags, X86_REG_WORD.r8]).toEqual([16, 17, 8]);
  });

  it('decodes words into the given object and encodes them back, matching the DataView codec byte for byte', () => {
    const words = BigUint64Array.from({ length: 18 }, (_, i) => 0x0101010101010101n * BigInt(i + 1));
    const out = createX86Regs();
    expect(decodeRegsWords(words, out)).toBe(out);
    expect(out).toMatchObject({ rax: 0x0101010101010101n, rcx: 0x0303030303030303n, rip: 0x1111111111111111n, rflags: 0x1212121212121212n });
    expect(out).toEqual(decodeRegs(new DataView(words.buffer)));
    const back = new BigUint64Array(18);
    encodeRegsWords(out, back);
    expect(back).toEqual(words);
  });

  it('stores a negative value modulo 2^64, and refuses a buffer shorter than kvm_regs', () => {
    const words = new BigUint64Array(18);
    encodeRegsWords({ ...createX86Regs(), rax: -1n, rbx: 1n << 64n }, words);
    expect([words[0], words[1]]).toEqual([0xffffffffffffffffn, 0n]);
    expect(() => decodeRegsWords(new BigUint64Array(17))).toThrow(RangeError);
    expect(() => encodeRegsWords(createX86Regs(), new BigUint64Array(17))).toThrow(/kvm_regs needs 18 words, got 17/);
  });
});

describe('SyncRegsArea reads lazily', () => {
  function area() {
    const run = new DataView(new ArrayBuffer(KvmRunLayout.size));
    const a = new SyncRegsArea(run);
    a.enable(GROUP_BIT.regs);
    return { run, a, bytes: new Uint8Array(run.buffer) };
  }

  it('kvmRan copies nothing and changes only the evidence bit: RFLAGS 0x246 stays 0x244 in kvm_run until KVM runs again', () => {
    const { run, a, bytes } = area();
    run.setBigUint64(AREA + RIP, 0x8123n, true);
    run.setBigUint64(AREA + RFLAGS, 0x246n, true);
    const before = bytes.slice();
    a.kvmRan();
    expect(a.holds('regs')).toBe(true);
    expect(run.getBigUint64(AREA + RFLAGS, true)).toBe(0x244n);
    const changed = [...bytes.keys()].filter((i) => bytes[i] !== before[i]);
    expect(changed).toEqual([AREA_RFLAGS]);
  });

  it('a group is read out when first read, the evidence bit put back; one register reads without a copy', () => {
    const { run, a } = area();
    run.setBigUint64(AREA + RIP, 0x8123n, true);
    run.setBigUint64(AREA + RFLAGS, 0x246n, true);
    a.kvmRan();
    expect(a.regsWord(RIP)).toBe(0x8123n);
    expect(a.regsWord(RFLAGS)).toBe(0x246n);
    const into = new Uint8Array(144);
    expect(a.read('regs', into)).toBe(true);
    const v = new DataView(into.buffer);
    expect([v.getBigUint64(RIP, true), v.getBigUint64(RFLAGS, true)]).toEqual([0x8123n, 0x246n]);
  });

  it('holds nothing once a write to the group is staged (its bytes are not KVM’s), after an ioctl (stale), or without a run', () => {
    const { run, a } = area();
    run.setUint8(AREA_RFLAGS, 2);
    a.kvmRan();
    const staged = new Uint8Array(144);
    staged[RFLAGS] = 2;
    a.stage('regs', staged);
    expect(a.holds('regs')).toBe(false);
    expect(a.read('regs', new Uint8Array(144))).toBe(false);
    a.unstage(GROUP_BIT.regs);
    run.setUint8(AREA_RFLAGS, 2);
    a.kvmRan();
    expect(a.holds('regs')).toBe(true);
    a.stale();
    expect(a.holds('regs')).toBe(false);
    a.kvmRan(); // no run since: the bit was cleared
    expect(a.holds('regs')).toBe(false);
  });
});

describe('X86StateSync.readRegister', () => {
  function rig(options: { caps?: X86StateCaps; syncRegs?: X86SyncRegsGroup[] } = {}) {
    const caps = options.caps ?? SYNC_CAPS;
    const kvm = new FakeVcpu(caps);
    const sync = new X86StateSync(kvm.ioctl, caps, 'vCPU 0', { run: kvm.run });
    sync.configure({ lapic: false, msrList: [] });
    sync.useSyncRegs(options.syncRegs ?? ['regs']);
    return { kvm, sync, tc: sync.tc };
  }
  /** A run of the fake vCPU, then BaseKvmCPU's invalidation on the next read. */
  function run(kvm: FakeVcpu, sync: X86StateSync, options?: Parameters<FakeVcpu['kvmRun']>[0]): void {
    kvm.kvmRun(options);
    sync.invalidate();
  }

  it('after a run, every register read alone equals what KVM holds and what the context decodes, at no ioctl', () => {
    const { kvm, sync, tc } = rig();
    run(kvm, sync, { guest: (v) => v.setReg(RIP, 0x9abcn) });
    kvm.crossings = 0;
    const alone = Object.fromEntries(X86_GPR_NAMES.map((n) => [n, sync.readRegister(n)]));
    expect(kvm.crossings).toBe(0);
    expect(alone.rip).toBe(0x9abcn);
    expect(alone.rflags & 2n).toBe(2n);
    expect(alone).toEqual(decodeRegs(new DataView(kvm.bytes.get('REGS')!.buffer)));
    expect(alone).toEqual({ ...tc.regs });
    expect(kvm.crossings).toBe(0);
  });

  it('a register written to the context reads back as written, before and after the push', () => {
    const { kvm, sync, tc } = rig();
    run(kvm, sync);
    sync.markDirty('regs');
    tc.regs.rbx = 0xb0bn;
    expect(sync.readRegister('rbx')).toBe(0xb0bn);
    sync.staging = true;
    sync.pushDirty(); // staged in kvm_run
    expect(sync.readRegister('rbx')).toBe(0xb0bn);
    // A run that returns without taking it (waiting for SIPI): still the written value.
    run(kvm, sync, { uninitialized: true });
    expect(sync.readRegister('rbx')).toBe(0xb0bn);
    expect(kvm.reg(RBX)).not.toBe(0xb0bn);
    // KVM takes it; regs were not requested back for that run, so the read is one KVM_GET_REGS.
    kvm.calls.length = 0;
    run(kvm, sync, { guest: (v) => v.setReg(RAX, 0xa1n) });
    expect(sync.readRegister('rbx')).toBe(0xb0bn);
    expect(sync.readRegister('rax')).toBe(0xa1n);
    expect(kvm.calls).toEqual(['sync:REGS', 'KVM_GET_REGS']);
  });

  it('without the cap the first read is one KVM_GET_REGS into the raw struct, decoded by neither it nor the next read', () => {
    const { kvm, sync, tc } = rig({ syncRegs: [] });
    kvm.setReg(RIP, 0x4000n);
    run(kvm, sync);
    expect(sync.readRegister('rip')).toBe(0x4000n);
    expect(sync.readRegister('rflags')).toBe(kvm.reg(RFLAGS));
    expect(kvm.calls).toEqual(['KVM_GET_REGS']);
    // The context decodes the same struct when it is read: no second ioctl.
    expect(tc.regs.rip).toBe(0x4000n);
    expect(kvm.calls).toEqual(['KVM_GET_REGS']);
  });

  it('before the first run kvm_run holds nothing of KVM’s: the read is KVM_GET_REGS', () => {
    const { kvm, sync } = rig();
    sync.invalidate();
    expect(sync.readRegister('rip')).toBe(kvm.reg(RIP));
    expect(kvm.calls).toEqual(['KVM_GET_REGS']);
  });

  it('an invalidation without a run after an ioctl push reads KVM again, not the exit’s stale copy', () => {
    const { kvm, sync, tc } = rig();
    run(kvm, sync, { guest: (v) => v.setReg(RAX, 1n) });
    sync.markDirty('regs');
    tc.regs.rax = 7n;
    sync.pushDirty(); // not staging: KVM_SET_REGS
    sync.invalidate();
    expect(sync.readRegister('rax')).toBe(7n);
    expect(kvm.calls).toEqual(['KVM_SET_REGS', 'KVM_GET_REGS']);
  });
});
