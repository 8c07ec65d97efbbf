/**
 * A stand-in for one vCPU's state ioctls, for unit tests of the state sync without /dev/kvm.
 * It keeps each group's bytes as KVM would, answers KVM_GET_* from them, stores KVM_SET_*,
 * and records every call by name (the engine passes the ioctl's name with each call).
 */
import { KvmError } from '@kvmts/core';
import { X86Cpuid2Layout, X86CpuidEntry2Layout, X86MsrEntryLayout, type X86StateCaps, type VcpuIoctl } from '@kvmts/arch-x86';

const SIZES: Record<string, number> = { REGS: 144, SREGS: 312, SREGS2: 320, FPU: 416, XCRS: 392, DEBUGREGS: 128, VCPU_EVENTS: 64, MP_STATE: 4, LAPIC: 1024 };

export class FakeVcpu {
  readonly calls: string[] = [];
  /** Stored bytes per group name (REGS, SREGS2, XSAVE, …). */
  readonly bytes = new Map<string, Uint8Array>();
  readonly msrs = new Map<number, bigint>();
  /** MSR indices KVM_SET_MSRS refuses. */
  readonly refuse = new Set<number>();
  /** Entries KVM_SET_MSRS received, per call. */
  readonly msrWrites: [number, bigint][][] = [];
  cpuid = new Uint8Array(0);
  cpuidCount = 0;

  constructor(readonly caps: X86StateCaps) {
    for (const [k, n] of Object.entries(SIZES)) this.bytes.set(k, Uint8Array.from({ length: n }, (_, i) => (i * 7 + k.length) & 0xff));
    this.bytes.set('MP_STATE', new Uint8Array(4));
    this.bytes.set('XCRS', new Uint8Array(392));
    const xsave = new Uint8Array(Math.max(caps.xsaveBytes, 4096));
    xsave.set([0x7f, 0x03], 0);
    new DataView(xsave.buffer).setBigUint64(512, 7n, true); // x87, SSE, AVX in use
    xsave.fill(0xab, 576, 576 + 256); // YMM upper halves
    this.bytes.set('XSAVE', xsave);
  }

  readonly ioctl: VcpuIoctl = (_request, op, arg) => {
    this.calls.push(op);
    const name = op.replace(/^KVM_/, '');
    const view = arg as DataView | Uint8Array;
    const buf = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    const [dir, group] = [name.slice(0, 3), name.slice(4)];
    if (group === 'MSRS') return this.msrIoctl(dir, new DataView(buf.buffer, buf.byteOffset, buf.byteLength));
    if (group === 'CPUID2') return this.cpuidIoctl(dir, buf);
    const key = group === 'XSAVE2' ? 'XSAVE' : group;
    const stored = this.bytes.get(key)!;
    if (dir === 'GET') buf.set(stored.subarray(0, buf.length));
    else this.bytes.set(key, buf.slice());
    return 0;
  };

  private msrIoctl(dir: string, v: DataView): number {
    const n = v.getUint32(0, true);
    const writes: [number, bigint][] = [];
    for (let i = 0; i < n; i++) {
      const at = 8 + i * X86MsrEntryLayout.size;
      const index = v.getUint32(at, true);
      if (this.refuse.has(index)) return i;
      if (dir === 'GET') v.setBigUint64(at + 8, this.msrs.get(index) ?? BigInt(index) * 3n, true);
      else writes.push([index, v.getBigUint64(at + 8, true)]);
    }
    if (dir === 'SET') {
      this.msrWrites.push(writes);
      for (const [i, value] of writes) this.msrs.set(i, value);
    }
    return n;
  }

  private cpuidIoctl(dir: string, buf: Uint8Array): number {
    const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (dir === 'SET') {
      this.cpuidCount = v.getUint32(0, true);
      this.cpuid = buf.slice(X86Cpuid2Layout.size, X86Cpuid2Layout.size + this.cpuidCount * X86CpuidEntry2Layout.size);
      return 0;
    }
    // As Linux 6.1: E2BIG without the size needed; on success `nent` is left as passed.
    if (v.getUint32(0, true) < this.cpuidCount) throw new KvmError('KVM_GET_CPUID2', 7, 'E2BIG');
    buf.set(this.cpuid, X86Cpuid2Layout.size);
    return 0;
  }
}

export const FULL_CAPS: X86StateCaps = { sregs2: true, xsaveBytes: 4096, xsave2: true, xcrs: true, debugRegs: true, vcpuEvents: true };
