import { ConfigError, GuestError, KvmError, KvmUnavailableError, VcpuThreadError, checkApiVersion, parseSize } from '@kvmts/core';
import { deserializeError, serializeError } from '../src/errors/serialize';

describe('parseSize', () => {
  it.each([
    ['64M', 64 * 1024 ** 2],
    ['1G', 1024 ** 3],
    ['512k', 512 * 1024],
    ['4096', 4096],
    ['2GiB', 2 * 1024 ** 3],
    [65536, 65536],
  ] as const)('%s → %i bytes', (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  it.each(['', 'lots', '-1M', '1.5G', 0, -4096, 1.5])('rejects %p', (input) => {
    expect(parseSize(input as string | number)).toBeUndefined();
  });
});

describe('errors crossing a thread boundary', () => {
  it('GuestError keeps kind, vCPU, dump and details', () => {
    const e = new GuestError('triple-fault', 3, 'boom', 'rip: 0x1', { exitReason: 8 });
    const back = deserializeError(structuredClone(serializeError(e)), 3) as GuestError;
    expect(back).toBeInstanceOf(GuestError);
    expect([back.kind, back.vcpuId, back.message, back.dump, back.details]).toEqual(['triple-fault', 3, 'vCPU 3: boom', 'rip: 0x1', { exitReason: 8 }]);
  });

  it('KvmError keeps op, errno and code; ConfigError its setting', () => {
    const k = deserializeError(serializeError(new KvmError('KVM_RUN', 14, 'EFAULT')), 0) as KvmError;
    expect([k.op, k.errno, k.code, k.message]).toEqual(['KVM_RUN', 14, 'EFAULT', 'KVM_RUN failed: EFAULT (errno 14)']);
    const c = deserializeError(serializeError(new ConfigError('memory', 'bad')), 0) as ConfigError;
    expect([c.setting, c.message]).toEqual(['memory', 'memory: bad']);
  });

  it('anything else becomes a VcpuThreadError naming the vCPU and the original error', () => {
    const e = deserializeError(serializeError(new TypeError('x is undefined')), 1);
    expect(e).toBeInstanceOf(VcpuThreadError);
    expect(e.message).toBe('vCPU 1 thread: TypeError: x is undefined');
  });
});

describe('checkApiVersion', () => {
  it('accepts 12 and rejects anything else with a typed error naming both versions', () => {
    expect(() => checkApiVersion('/dev/kvm', 12)).not.toThrow();
    expect(() => checkApiVersion('/dev/kvm', 11)).toThrow(KvmUnavailableError);
    expect(() => checkApiVersion('/dev/kvm', 13)).toThrow('/dev/kvm speaks KVM API version 13; kvmts needs version 12');
  });
});
