/**
 * KVM_CREATE_VM is issued again when a signal interrupts it (EINTR), as QEMU does; any other
 * failure, and an EINTR that never stops, comes back as it was. The calls here throw the native
 * layer's own SyscallError, as its ioctl wrapper does for an interrupted ioctl (an EINTR cannot be
 * produced on demand from a real KVM_CREATE_VM).
 */
import * as native from '@kvmts/native';
import { EINTR_RETRIES, retryingInterrupted } from '../src/kvm/ioctl';

const interrupted = () => new native.SyscallError('ioctl', 4, 'EINTR', 'ioctl failed: EINTR');

/** A call that fails with `errors` in turn, then returns `value`; counts its calls. */
function failingThen(errors: Error[], value: number) {
  const call = () => {
    call.calls++;
    const e = errors.shift();
    if (e) throw e;
    return value;
  };
  call.calls = 0;
  return call;
}

describe('retryingInterrupted', () => {
  it('issues the call again after each EINTR and returns its answer', () => {
    const call = failingThen([interrupted(), interrupted()], 17);
    expect(retryingInterrupted(call)).toBe(17);
    expect(call.calls).toBe(3);
  });

  it('throws any other failure at once, untouched', () => {
    const busy = new native.SyscallError('ioctl', 16, 'EBUSY', 'ioctl failed: EBUSY');
    const call = failingThen([busy], 1);
    expect(() => retryingInterrupted(call)).toThrow(busy);
    expect(call.calls).toBe(1);
  });

  it('gives up after EINTR_RETRIES more tries and throws the last EINTR', () => {
    const call = failingThen(Array.from({ length: EINTR_RETRIES + 5 }, interrupted), 1);
    expect(() => retryingInterrupted(call)).toThrow(native.SyscallError);
    expect(call.calls).toBe(EINTR_RETRIES + 1);
  });
});
