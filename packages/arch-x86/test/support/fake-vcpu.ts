/**
 * A stand-in for one vCPU's state ioctls, for unit tests of the state sync without /dev/kvm.
 * It keeps each group's bytes as KVM would, answers KVM_GET_* from them, stores KVM_SET_*,
 * and records every call by name (the engine passes the ioctl's name with each call).
 */
import { constants as osConstants } from 'node:os';
import { KvmError, KvmRunLayout } from '@kvmts/core';
import { SYNC_REGS_AREA, X86Cpuid2Layout, X86CpuidEntry2Layout, X86MsrEntryLayout, type X86StateCaps, type VcpuIoctl, type VcpuIoctlBatchPort } from '@kvmts/arch-x86';

const ERRNO_NAME = new Map(Object.entries(osConstants.errno).map(([k, v]) => [v, k]));

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
  /** N-API crossings a real vCPU would have cost: one per ioctl, one per batch. */
  crossings = 0;
  /** The ioctl names of each batch run. */
  readonly batches: string[][] = [];
  /** Ioctls that fail, by name, with this errno name. */
  readonly failing = new Map<string, string>();
  /** This vCPU's kvm_run page (KVM_CAP_SYNC_REGS area at kvm_run.s). */
  readonly run = new DataView(new ArrayBuffer(KvmRunLayout.size));

  constructor(readonly caps: X86StateCaps) {
    for (const [k, n] of Object.entries(SIZES)) this.bytes.set(k, Uint8Array.from({ length: n }, (_, i) => (i * 7 + k.length) & 0xff));
    this.bytes.get('REGS')![136] |= 0x02; // RFLAGS bit 1 is always set
    this.bytes.set('MP_STATE', new Uint8Array(4));
    this.bytes.set('XCRS', new Uint8Array(392));
    const xsave = new Uint8Array(Math.max(caps.xsaveBytes, 4096));
    xsave.set([0x7f, 0x03], 0);
    new DataView(xsave.buffer).setBigUint64(512, 7n, true); // x87, SSE, AVX in use
    xsave.fill(0xab, 576, 576 + 256); // YMM upper halves
    this.bytes.set('XSAVE', xsave);
  }

  readonly ioctl: VcpuIoctl = (_request, op, arg) => {
    this.crossings++;
    return this.apply(op, arg);
  };

  /** Runs a batch as runIoctlBatch does: in order, stopping at a failure or an unexpected result. */
  readonly batchPort: VcpuIoctlBatchPort = {
    run: (batch, ops) => {
      this.crossings++;
      this.batches.push(ops.slice(0, batch.count));
      for (let i = 0; i < batch.count; i++) {
        let r: number;
        try {
          r = this.apply(ops[i], batch.args[i] as ArrayBufferView);
        } catch (e) {
          batch.results[i] = -(e as KvmError).errno;
          return i;
        }
        batch.results[i] = r;
        if (batch.expects[i] >= 0 && r !== batch.expects[i]) return i;
      }
      return batch.count;
    },
    error: (batch, index, op) => {
      const errno = -batch.results[index];
      return new KvmError(op, errno, ERRNO_NAME.get(errno) ?? `errno ${errno}`);
    },
  };

  /**
   * KVM_RUN as KVM does it with KVM_CAP_SYNC_REGS: apply the groups named in kvm_dirty_regs and
   * clear those bits, let the guest run (`guest` changes the stored state), then copy the groups
   * named in kvm_valid_regs into kvm_run.s. A vCPU waiting for INIT/SIPI (`uninitialized`)
   * returns before applying anything but still copies.
   */
  kvmRun(options: { uninitialized?: boolean; guest?: (vcpu: FakeVcpu) => void } = {}): void {
    const bytes = new Uint8Array(this.run.buffer);
    const keys = { regs: 'REGS', sregs: 'SREGS', events: 'VCPU_EVENTS' } as const;
    if (!options.uninitialized) {
      const dirty = this.run.getUint32(KvmRunLayout.kvm_dirty_regs, true);
      for (const [g, key] of Object.entries(keys)) {
        const { kvmBit, offset, size } = SYNC_REGS_AREA[g as keyof typeof keys];
        if (dirty & kvmBit) {
          this.calls.push(`sync:${key}`);
          this.bytes.set(key, bytes.slice(offset, offset + size));
        }
      }
      this.run.setUint32(KvmRunLayout.kvm_dirty_regs, 0, true);
      options.guest?.(this);
    }
    const valid = this.run.getUint32(KvmRunLayout.kvm_valid_regs, true);
    for (const [g, key] of Object.entries(keys)) {
      const { kvmBit, offset } = SYNC_REGS_AREA[g as keyof typeof keys];
      if (valid & kvmBit) bytes.set(this.bytes.get(key)!, offset);
    }
  }

  /** One general register as the fake KVM holds it (kvm_regs offset). */
  reg(offset: number): bigint {
    return new DataView(this.bytes.get('REGS')!.buffer).getBigUint64(offset, true);
  }

  setReg(offset: number, value: bigint): void {
    new DataView(this.bytes.get('REGS')!.buffer).setBigUint64(offset, value, true);
  }

  private apply(op: string, arg: unknown): number {
    this.calls.push(op);
    const fail = this.failing.get(op);
    if (fail !== undefined) throw new KvmError(op, (osConstants.errno as Record<string, number>)[fail], fail);
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
  }

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
/** FULL_CAPS with KVM_CAP_SYNC_REGS (KVM_SYNC_X86_REGS | SREGS | EVENTS). */
export const SYNC_CAPS: X86StateCaps = { ...FULL_CAPS, syncRegs: 7 };
