/**
 * A syscall that fails in the native layer reaches the user as a typed kvmts error: nativeCall
 * turns the raw SyscallError into a KvmError naming the call (with what to do for an errno it
 * knows), and a SyscallError thrown in a vCPU thread crosses to the main thread as that KvmError.
 * Host tier: real failing syscalls, no KVM needed.
 */
import * as native from '@kvmts/native';
import { GuestMemory, KvmError, LifecycleError, VcpuThreadError, nativeCall } from '@kvmts/core';
import { deserializeError, serializeError } from '../src/errors/serialize';

const c = native.constants;

function kvmErrorOf(f: () => unknown): KvmError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(KvmError);
    return e as KvmError;
  }
  throw new Error('expected a KvmError');
}

describe('native failures as KvmError', () => {
  it('an mmap the kernel refuses (more than the address space): ENOMEM, the op named, the hint given', () => {
    const e = kvmErrorOf(() => nativeCall('mmap(memory[ram], 2^50 bytes)', () => native.mmap(2 ** 50, c.PROT_READ | c.PROT_WRITE, c.MAP_PRIVATE | c.MAP_ANONYMOUS), { ENOMEM: 'ask for less' }));
    expect([e.op, e.code, e.errno]).toEqual(['mmap(memory[ram], 2^50 bytes)', 'ENOMEM', 12]);
    expect(e.message).toBe('mmap(memory[ram], 2^50 bytes) failed: ENOMEM (errno 12) — ask for less');
  });

  it('an mmap of a closed fd: EBADF, no hint for it', () => {
    const e = kvmErrorOf(() => nativeCall('mmap(vCPU 0 kvm_run)', () => native.mmap(4096, c.PROT_READ, c.MAP_SHARED, 1_000_000, 0), { ENOMEM: 'x' }));
    expect(e.message).toBe('mmap(vCPU 0 kvm_run) failed: EBADF (errno 9)');
  });

  it('a SyscallError thrown in a vCPU thread crosses as a KvmError; anything else as a VcpuThreadError with the original as cause', () => {
    let raw: unknown;
    try {
      native.mmap(4096, c.PROT_READ, c.MAP_SHARED, 1_000_000, 0);
    } catch (e) {
      raw = e;
    }
    expect(raw).toBeInstanceOf(native.SyscallError);
    const k = deserializeError(structuredClone(serializeError(raw)), 2) as KvmError;
    expect(k).toBeInstanceOf(KvmError);
    expect([k.op, k.code]).toEqual(['mmap', 'EBADF']);
    const t = deserializeError(structuredClone(serializeError(new TypeError('x is undefined'))), 2) as VcpuThreadError;
    expect(t).toBeInstanceOf(VcpuThreadError);
    expect(t.cause).toMatchObject({ name: 'TypeError', message: 'x is undefined' });
  });
});

describe('guest memory after its mapping is gone', () => {
  it('an access is a LifecycleError, not a TypeError from a detached buffer', () => {
    const mapping = native.mmap(8192, c.PROT_READ | c.PROT_WRITE, c.MAP_PRIVATE | c.MAP_ANONYMOUS);
    const memory = new GuestMemory([{ name: 'ram', guestPhysAddr: 0x1000, size: 8192, kvmMap: true, inAddrMap: true, confReported: true, readOnly: false, dirtyLog: false, slot: 0, mappingId: mapping.id, hostAddress: mapping.address }]);
    memory.write(0x1000, Uint8Array.of(1, 2, 3));
    expect(memory.read(0x1000, 3)).toEqual(Uint8Array.of(1, 2, 3));
    mapping.unmap(); // what the VM's close() does after its vCPUs stopped
    for (const access of [() => memory.read(0x1000, 3), () => memory.write(0x1000, Uint8Array.of(1)), () => memory.view(0x1800, 8)]) {
      expect(access).toThrow(new LifecycleError('guest memory', 'unmapped (its VM is closed)', 'access it'));
    }
  });
});
