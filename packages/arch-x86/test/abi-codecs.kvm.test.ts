/**
 * The regs/sregs codecs and ioctl numbers against a real vCPU: what the codecs encode, KVM
 * accepts and returns unchanged; what KVM returns, the codecs decode and re-encode byte for
 * byte. Skips when /dev/kvm cannot be opened.
 */
import * as native from '@kvmts/native';
import { Kvm, KvmCap, kvmIoctl, KvmIoctl } from '@kvmts/core';
import {
  X86Ioctl,
  X86RegsLayout,
  X86SregsLayout,
  X86Sregs2Layout,
  createX86Regs,
  decodeSregs2,
  encodeSregs2,
  decodeRegs,
  decodeSregs,
  encodeRegs,
  encodeSregs,
} from '../src/abi';


describeKvm('x86 regs/sregs codecs with real KVM_GET/SET_(S)REGS', () => {
  let kvm: Kvm;
  let vmFd: number;
  let vcpuFd: number;

  beforeAll(() => {
    kvm = Kvm.open();
    vmFd = kvm.createVmFd();
    vcpuFd = kvmIoctl(vmFd, KvmIoctl.CREATE_VCPU, 'KVM_CREATE_VCPU', 0);
  });
  afterAll(() => {
    if (vcpuFd !== undefined) native.close(vcpuFd);
    if (vmFd !== undefined) native.close(vmFd);
    kvm?.close();
  });

  it('SET_REGS of encoded values reads back identically through GET_REGS', () => {
    const regs = createX86Regs();
    regs.rax = 0x1122334455667788n;
    regs.r15 = 0xfedcba9876543210n;
    regs.rip = 0xfff0n;
    regs.rflags = 0x202n;
    const out = new Uint8Array(X86RegsLayout.size);
    encodeRegs(regs, new DataView(out.buffer));
    kvmIoctl(vcpuFd, X86Ioctl.SET_REGS, 'KVM_SET_REGS', out);
    const back = new Uint8Array(X86RegsLayout.size);
    kvmIoctl(vcpuFd, X86Ioctl.GET_REGS, 'KVM_GET_REGS', back);
    expect(decodeRegs(new DataView(back.buffer))).toEqual(regs);
  });

  it('decode → encode of the kernel’s reset sregs reproduces its bytes exactly', () => {
    const raw = new Uint8Array(X86SregsLayout.size);
    kvmIoctl(vcpuFd, X86Ioctl.GET_SREGS, 'KVM_GET_SREGS', raw);
    const s = decodeSregs(new DataView(raw.buffer));
    expect(s.cs.selector).toBe(0xf000); // x86 reset: CS = F000, base FFFF0000
    expect(s.cs.base).toBe(0xffff0000n);
    const again = new Uint8Array(X86SregsLayout.size);
    encodeSregs(s, new DataView(again.buffer));
    expect(Buffer.from(again).equals(Buffer.from(raw))).toBe(true);
  });

  it('SET_SREGS of a modified state reads back through GET_SREGS', () => {
    const raw = new Uint8Array(X86SregsLayout.size);
    kvmIoctl(vcpuFd, X86Ioctl.GET_SREGS, 'KVM_GET_SREGS', raw);
    const s = decodeSregs(new DataView(raw.buffer));
    s.gdt = { base: 0x500n, limit: 39 };
    s.idt = { base: 0x528n, limit: 7 };
    s.ds.base = 0x12340n;
    s.ds.selector = 0x1234;
    encodeSregs(s, new DataView(raw.buffer));
    kvmIoctl(vcpuFd, X86Ioctl.SET_SREGS, 'KVM_SET_SREGS', raw);
    const back = new Uint8Array(X86SregsLayout.size);
    kvmIoctl(vcpuFd, X86Ioctl.GET_SREGS, 'KVM_GET_SREGS', back);
    const got = decodeSregs(new DataView(back.buffer));
    expect(got.gdt).toEqual({ base: 0x500n, limit: 39 });
    expect(got.idt).toEqual({ base: 0x528n, limit: 7 });
    expect(got.ds).toMatchObject({ base: 0x12340n, selector: 0x1234 });
  });

  it('GET_SREGS2 agrees with GET_SREGS on every shared member and round-trips through SET_SREGS2', () => {
    if (!kvm.hasCapability(KvmCap.SREGS2)) {
      // optional capability (absent before Linux 5.14): then the ioctl must be refused
      expect(() => kvmIoctl(vcpuFd, X86Ioctl.GET_SREGS2, 'KVM_GET_SREGS2', new Uint8Array(X86Sregs2Layout.size))).toThrow();
      return;
    }
    const v1 = new Uint8Array(X86SregsLayout.size);
    kvmIoctl(vcpuFd, X86Ioctl.GET_SREGS, 'KVM_GET_SREGS', v1);
    const v2 = new Uint8Array(X86Sregs2Layout.size);
    kvmIoctl(vcpuFd, X86Ioctl.GET_SREGS2, 'KVM_GET_SREGS2', v2);
    const { interruptBitmap: _b, ...common1 } = decodeSregs(new DataView(v1.buffer));
    const s2 = decodeSregs2(new DataView(v2.buffer));
    const { flags: _f, pdptrs: _p, ...common2 } = s2;
    expect(common2).toEqual(common1);
    s2.cr3 = 0x9000n;
    const out = new Uint8Array(X86Sregs2Layout.size);
    encodeSregs2({ ...s2, flags: 0n }, new DataView(out.buffer));
    kvmIoctl(vcpuFd, X86Ioctl.SET_SREGS2, 'KVM_SET_SREGS2', out);
    kvmIoctl(vcpuFd, X86Ioctl.GET_SREGS2, 'KVM_GET_SREGS2', v2);
    expect(decodeSregs2(new DataView(v2.buffer)).cr3).toBe(0x9000n);
  });
});
