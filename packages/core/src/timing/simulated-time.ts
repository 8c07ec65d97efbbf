/**
 * One vCPU's simulated time: a tick counter advanced by every run it measures, `runFor(ticks)`
 * (a run ended on time by a run timer, through the kick path) and `runInstructions(n)` (an
 * exact instruction stop), both measured too.
 *
 * Host cycles come from the monotonic clock at `hostFreq` (process.hrtime), which counts
 * wall time: the guest's cycles plus the userspace exit handling of the run. gem5 reads a
 * guest-only perf cycle counter instead; kvmts does not read perf counters yet, and this
 * project's hosts have no PMU, so runFor and runInstructions say so once (pmu.ts); plain runs
are measured silently.
 */
import { ConfigError } from '../errors/errors';
import type { CpuStop } from '../cpu/cpu-stop';
import { cyclesToTicks, nsToCycles, simTimeConfig, ticksToHostNs, type SimTimeConfig, type SimTimeOptions } from './sim-time';
import { RunTimer } from './run-timer';
import { pmuNotice } from './pmu';
import { runInstructions, type InstructionRun, type InstructionStepper } from './instruction-stops';

/** What a timed CPU offers (BaseKvmCPU does). */
export interface TimedCpu {
  readonly control: Int32Array;
  runLoop(maxExits?: number): CpuStop;
  /** Clears a stop request and immediate_exit before the next run. */
  resume(): void;
}

export class SimulatedTime {
  readonly config: SimTimeConfig;
  private ticksSoFar = 0n;
  private timer: RunTimer | undefined;

  constructor(
    private readonly cpu: TimedCpu,
    options: SimTimeOptions = {},
  ) {
    this.config = simTimeConfig(options);
  }

  /** Simulated ticks this vCPU has run (1 tick = 1 ps). */
  get ticks(): bigint {
    return this.ticksSoFar;
  }

  /**
   * Continue from `ticks` (a checkpoint's saved count): the clock carries on from the saved
   * instant instead of 0. A bigint ≥ 0.
   */
  restoreTicks(ticks: bigint): void {
    if (typeof ticks !== 'bigint' || ticks < 0n) throw new ConfigError('simulated ticks', `must be a bigint ≥ 0, got ${String(ticks)}`);
    this.ticksSoFar = ticks;
  }

  /** A plain run (runLoop), measured. */
  run(maxExits?: number): CpuStop {
    return this.measure(() => this.cpu.runLoop(maxExits)).value;
  }

  /**
   * Run for `ticks` simulated ticks: a run timer set to the host time they take
   * (ticks / hostFactor at hostFreq) ends the run through the kick path. Returns
   * `{ reason: 'time', ticks }` with the ticks the run took (never fewer than asked), or the
   * stop that came first.
   */
  runFor(ticks: bigint): CpuStop {
    if (typeof ticks !== 'bigint' || ticks <= 0n) throw new ConfigError('runFor.ticks', `must be a bigint > 0, got ${String(ticks)}`);
    pmuNotice();
    this.timer ??= new RunTimer(this.cpu.control);
    const timer = this.timer;
    let fired = false;
    const { value: stop, ticks: took } = this.measure(() => {
      timer.arm(ticksToHostNs(ticks, this.config));
      try {
        return this.cpu.runLoop();
      } finally {
        fired = timer.disarm();
      }
    });
    if (fired) {
      // The timer's stop request (and the immediate_exit the loop left set) must not end the next run.
      this.cpu.resume();
      if (stop.reason === 'stopped') return { reason: 'time', ticks: took };
    }
    return stop;
  }

  /** Exactly n instructions (instruction-stops.ts), measured. */
  runInstructions(n: number): InstructionRun {
    const cpu = this.cpu as unknown as Partial<InstructionStepper>;
    if (typeof cpu.guestDebug !== 'function') throw new ConfigError('runInstructions', 'this CPU offers no guest debug (single-step), which exact instruction stops need');
    return this.measure(() => runInstructions(cpu as InstructionStepper, n)).value;
  }

  close(): void {
    this.timer?.close();
    this.timer = undefined;
  }

  private measure<T>(work: () => T): { value: T; ticks: bigint } {
    const start = process.hrtime.bigint();
    try {
      const value = work();
      return { value, ticks: this.advance(start) };
    } catch (e) {
      this.advance(start);
      throw e;
    }
  }

  private advance(start: bigint): bigint {
    const took = cyclesToTicks(nsToCycles(process.hrtime.bigint() - start, this.config), this.config);
    this.ticksSoFar += took;
    return took;
  }
}
