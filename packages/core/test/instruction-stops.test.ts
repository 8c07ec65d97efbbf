/**
 * runInstructions' bookkeeping over the GuestDebug contract (the real single-step path runs on
 * KVM in arch-x86's instruction-stops.kvm.test.ts): steps are taken in bounded chunks, counted
 * exactly, and another stop ends the count with the instructions so far.
 */
import { ConfigError, Stop, runInstructions, setNoticeSink, type CpuStop, type GuestDebug, type StepTrace } from '@kvmts/core';

/** A GuestDebug whose stepInstructions walks pc 1, 2, 3, … and meets `interrupt` after `stopAfter` steps. */
function steppingDebug(stopAfter = Infinity, interrupt: CpuStop = Stop.poweroff(0)): { debug: GuestDebug; calls: number[] } {
  const calls: number[] = [];
  let pc = 0n;
  let done = 0;
  const debug = {
    stepInstructions(n: number): StepTrace {
      calls.push(n);
      const steps: { pc: bigint }[] = [];
      while (steps.length < n) {
        if (done === stopAfter) return { steps, stop: interrupt };
        done++;
        steps.push({ pc: ++pc });
      }
      return { steps, stop: { reason: 'debug', kind: 'step', pc, status: 0n } };
    },
  } as unknown as GuestDebug;
  return { debug, calls };
}

describe('runInstructions', () => {
  let restore: (line: string) => void;
  beforeAll(() => (restore = setNoticeSink(() => undefined)));
  afterAll(() => setNoticeSink(restore));

  it('counts exactly n, in chunks of at most 4096 steps, and stops at the pc after the last', () => {
    const { debug, calls } = steppingDebug();
    expect(runInstructions({ guestDebug: () => debug }, 5000)).toEqual({ stop: { reason: 'instructions', count: 5000, pc: 5000n }, executed: 5000 });
    expect(calls).toEqual([4096, 904]);
  });

  it('another stop first ends the count with that stop and the steps so far', () => {
    const { debug } = steppingDebug(4100);
    expect(runInstructions({ guestDebug: () => debug }, 10_000)).toEqual({ stop: { reason: 'poweroff', status: 0 }, executed: 4100 });
    const kicked = steppingDebug(0, Stop.stopped);
    expect(runInstructions({ guestDebug: () => kicked.debug }, 3)).toEqual({ stop: Stop.stopped, executed: 0 });
  });

  it('n must be a positive safe integer', () => {
    const { debug, calls } = steppingDebug();
    for (const bad of [0, -3, 2.5, Number.NaN, 2 ** 60]) expect(() => runInstructions({ guestDebug: () => debug }, bad)).toThrow(ConfigError);
    expect(calls).toEqual([]);
  });
});
