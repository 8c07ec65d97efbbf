/**
 * The slice timer (src/slice-timer.ts, native/slice_timer.cc): a slice that runs out sets STOP
 * and immediate_exit (and kicks the arming thread: that KVM_RUN then returns is proven with a
 * spinning guest, arch-x86's main-thread-vcpu.kvm.test.ts); a slice ended first leaves both
 * alone; bad arguments and a closed timer are refused by name; no timer thread outlives close().
 */
import * as native from '../src';

const stopWord = () => new Int32Array(new SharedArrayBuffer(16));

describe('the slice timer', () => {
  beforeAll(() => native.installKickHandler());

  it('sets STOP and immediate_exit once the slice runs out, and says so on disarm', () => {
    const timer = new native.SliceTimer();
    try {
      const stop = stopWord();
      const run = new Uint8Array(16);
      const exit = run.subarray(8, 9);
      timer.arm(stop, exit, 2e6);
      const t0 = process.hrtime.bigint();
      while (Atomics.load(stop, 0) === 0 && process.hrtime.bigint() - t0 < 5_000_000_000n);
      const waited = Number(process.hrtime.bigint() - t0) / 1e6;
      expect(timer.disarm()).toBe(true);
      expect([stop[0], run[8], run[7], run[9]]).toEqual([1, 1, 0, 0]);
      expect(waited).toBeGreaterThanOrEqual(1.5);
      // Re-armed, a slice that ends first is not reported and writes nothing.
      stop[0] = 0;
      run[8] = 0;
      timer.arm(stop, exit, 60e9);
      expect(timer.disarm()).toBe(false);
      expect([stop[0], run[8]]).toEqual([0, 0]);
    } finally {
      timer.close();
    }
  });

  it('refuses a second arm, arguments of the wrong kind, and use after close', () => {
    const timer = new native.SliceTimer();
    const stop = stopWord();
    const exit = new Uint8Array(1);
    try {
      timer.arm(stop, exit, 1e9);
      expect(() => timer.arm(stop, exit, 1e9)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
      expect(timer.disarm()).toBe(false);
      expect(() => timer.arm(new Uint32Array(4) as unknown as Int32Array, exit, 1e6)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      expect(() => timer.arm(stop, new Int8Array(1) as unknown as Uint8Array, 1e6)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      expect(() => timer.arm(stop, new Uint8Array(0), 1e6)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      expect(() => timer.arm(stop, exit, 10)).toThrow(/slice timer \(10 ns\).*EINVAL/);
      expect(() => timer.arm(stop, exit, Number.NaN)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    } finally {
      timer.close();
    }
    timer.close(); // idempotent
    expect(() => timer.arm(stop, exit, 1e6)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(timer.disarm()).toBe(false);
  });

  it('closes its thread with the timer, armed or not', () => {
    const before = native.liveSliceTimerCount();
    const timers = [new native.SliceTimer(), new native.SliceTimer()];
    expect(native.liveSliceTimerCount()).toBe(before + 2);
    timers[0].arm(stopWord(), new Uint8Array(1), 60e9);
    for (const t of timers) t.close();
    expect(native.liveSliceTimerCount()).toBe(before);
  });
});
