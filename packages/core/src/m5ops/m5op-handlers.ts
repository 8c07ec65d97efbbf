/**
 * The main-thread side of the m5ops: the owner's handlers (`machine.m5ops.handle(op, fn)`), the
 * built-in actions (statistics, work items) and the decision every m5op stop ends in — resume the
 * vCPU, or end the machine's run with a result.
 *
 * Per op, when a vCPU stops with it (M5OP_TABLE's `default` column):
 *   built-in ops (resetstats, dumpstats, dumpresetstats, workbegin, workend) always act, then the
 *     handler, if any, is told (it may end the run); the guest continues.
 *   exit / fail: a handler replaces the default; without one, exit ends the run with
 *     `{ reason: 'm5-exit' }` and fail with a GuestError kind 'm5op-fail' carrying the code.
 *   every other op (checkpoint, switchcpu, readfile/writefile without a host file, …): the
 *     handler's, or — none registered — a GuestError kind 'm5op-unhandled' naming the op and the
 *     vCPU, which ends the run. An m5op is never dropped silently.
 * A handler returns nothing to let the guest continue, or 'end-run' to end the run with
 * `{ reason: 'm5op-end', call }`. What it throws ends the run as an error.
 */
import { GuestError, KvmtsError, ConfigError } from '../errors/errors';
import type { CpuStop } from '../cpu/cpu-stop';
import type { ExitCounts } from '../cpu/exit-stats';
import { m5opByFunc, m5opByName } from './m5op-table';
import { M5opStats, type M5StatsDump, type M5WorkItem } from './m5op-stats';

type M5opStop = Extract<CpuStop, { reason: 'm5op' }>;

/** One m5op as a handler sees it. */
export interface M5opCall {
  readonly op: string;
  readonly func: number;
  readonly vcpuId: number;
  /** The argument registers by the table's names (`delayNs`, `workId`, …); unknown ops: arg0…arg5. */
  readonly args: Readonly<Record<string, bigint>>;
  /** The argument registers in order, as the guest left them. */
  readonly registers: readonly bigint[];
  /** process.hrtime when the vCPU thread took the exit. */
  readonly hostTimeNs: bigint;
  /** For dumpstats / dumpresetstats: the dump the built-in action took. */
  readonly statsDump?: M5StatsDump;
  /** For workend: the completed work item (absent when no workbegin matched). */
  readonly workItem?: M5WorkItem;
}

export type M5opHandlerResult = void | 'end-run';
export type M5opHandler = (call: M5opCall) => M5opHandlerResult | Promise<M5opHandlerResult>;

/** How an m5op ended the machine's run (joins MachineExit). */
export type M5opRunEnd =
  /** m5 exit with no handler. gem5's m5_exit carries no status; `code` is 0, as gem5's exit event. */
  | { readonly reason: 'm5-exit'; readonly vcpuId: number; readonly code: 0; readonly delayNs: bigint }
  /** A handler returned 'end-run'. */
  | { readonly reason: 'm5op-end'; readonly call: M5opCall };

/** A handler threw something that is not a kvmts error: carried with the op and vCPU that ran it. */
export class M5opHandlerError extends KvmtsError {
  constructor(readonly op: string, readonly vcpuId: number, options: { cause: unknown }) {
    super(`m5op ${op} on vCPU ${vcpuId}: the handler failed: ${options.cause instanceof Error ? options.cause.message : String(options.cause)}`, options);
  }
}

/** What the machine does after an m5op stop. */
export type M5opOutcome = 'continue' | M5opRunEnd | { readonly reason: 'error'; readonly error: KvmtsError };

/** The vCPU an m5op came from, as the dispatcher needs it (for the dump in an error). */
export interface M5opVcpu {
  readonly id: number;
  call<T>(method: 'dump'): Promise<T>;
}

const NS_PER_MS = 1_000_000n;
const MAX_TIMER_MS = 2_147_483_647n;

export function m5opCall(stop: M5opStop, vcpuId: number, extra: Partial<Pick<M5opCall, 'statsDump' | 'workItem'>> = {}): M5opCall {
  const names = m5opByFunc(stop.func)?.args ?? stop.args.map((_, i) => `arg${i}`);
  const args: Record<string, bigint> = {};
  names.forEach((n, i) => (args[n] = stop.args[i] ?? 0n));
  return Object.freeze({ op: stop.op, func: stop.func, vcpuId, args: Object.freeze(args), registers: stop.args, hostTimeNs: stop.hostTimeNs, ...extra });
}

export class M5ops {
  private readonly handlers = new Map<string, M5opHandler>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** The statistics the stats ops act on (see m5op-stats.ts). */
  readonly stats: M5opStats;

  constructor(exitCounts: () => ExitCounts[]) {
    this.stats = new M5opStats(exitCounts);
  }

  /** Handle `op` (a name from M5OP_TABLE, e.g. 'checkpoint'); replaces an earlier handler. */
  handle(op: string, handler: M5opHandler): this {
    if (!m5opByName(op)) throw new ConfigError('m5ops.handle', `unknown m5op '${op}' (gem5's ops: see M5OP_TABLE)`);
    if (typeof handler !== 'function') throw new ConfigError(`m5ops.handle(${op})`, 'the handler must be a function');
    this.handlers.set(op, handler);
    return this;
  }

  /** Stop handling `op` (its default applies again). */
  unhandle(op: string): this {
    this.handlers.delete(op);
    return this;
  }

  /** Completed work items (workbegin → workend), oldest first. */
  get workItems(): readonly M5WorkItem[] {
    return this.stats.workItems;
  }

  /** Statistics dumps taken so far. */
  get statsDumps(): readonly M5StatsDump[] {
    return this.stats.dumps;
  }

  /** Delayed or periodic statistics actions waiting on a host timer (a checkpoint refuses them: see checkpoint/machine-state.ts). */
  get scheduledActions(): number {
    return this.timers.size;
  }

  /** Cancel delayed and periodic statistics actions (the machine calls this on close). */
  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Decide what a vCPU's m5op stop leads to; runs the built-in action and the handler. */
  async dispatch(vcpu: M5opVcpu, stop: M5opStop): Promise<M5opOutcome> {
    let call = m5opCall(stop, vcpu.id);
    const handler = this.handlers.get(stop.op);
    try {
      const builtin = this.builtin(call);
      if (builtin) {
        call = m5opCall(stop, vcpu.id, builtin);
        return this.afterHandler(call, handler ? await handler(call) : undefined);
      }
      if (handler) return this.afterHandler(call, await handler(call));
    } catch (e) {
      return { reason: 'error', error: e instanceof KvmtsError ? e : new M5opHandlerError(stop.op, vcpu.id, { cause: e }) };
    }
    if (stop.op === 'exit') return { reason: 'm5-exit', vcpuId: vcpu.id, code: 0, delayNs: call.args.delayNs };
    const dump = await vcpu.call<string>('dump').catch((e: Error) => `(dump failed: ${e.message})`);
    if (stop.op === 'fail') {
      const { code, delayNs } = call.args;
      return { reason: 'error', error: new GuestError('m5op-fail', vcpu.id, `the guest called m5 fail with code ${code}`, dump, { op: 'fail', code, delayNs }) };
    }
    const info = m5opByFunc(stop.func);
    const why = info ? `no handler is registered for it (machine.m5ops.handle('${info.name}', …))${info.where === 'thread' ? ' and no host file is configured for it (m5ops device options)' : ''}` : 'it is not one of gem5\'s function numbers';
    return { reason: 'error', error: new GuestError('m5op-unhandled', vcpu.id, `m5op ${stop.op} (0x${stop.func.toString(16)}) is unhandled: ${why}`, dump, { op: stop.op, func: stop.func }) };
  }

  private afterHandler(call: M5opCall, result: M5opHandlerResult): M5opOutcome {
    if (result === 'end-run') return { reason: 'm5op-end', call };
    return 'continue';
  }

  /**
   * The built-in action of a stats or work op, run at once — or, for stats ops with a delay or a
   * period, scheduled on host time (kvmts has no simulated clock). Returns what the call carries
   * to the handler, or undefined when `call.op` has no built-in action.
   */
  private builtin(call: M5opCall): Partial<Pick<M5opCall, 'statsDump' | 'workItem'>> | undefined {
    const s = this.stats;
    switch (call.op) {
      case 'workbegin':
        s.workBegin(call.args.workId, call.args.threadId, call.vcpuId, call.hostTimeNs);
        return {};
      case 'workend': {
        const workItem = s.workEnd(call.args.workId, call.args.threadId, call.vcpuId, call.hostTimeNs);
        return workItem ? { workItem } : {};
      }
      case 'resetstats':
      case 'dumpstats':
      case 'dumpresetstats': {
        const act = (vcpuId: number): M5StatsDump | undefined => {
          const dump = call.op === 'resetstats' ? undefined : s.dump(call.op, vcpuId);
          if (call.op !== 'dumpstats') s.reset();
          return dump;
        };
        const { delayNs, periodNs } = call.args;
        if (delayNs === 0n && periodNs === 0n) {
          const statsDump = act(call.vcpuId);
          return statsDump ? { statsDump } : {};
        }
        this.schedule(delayNs, periodNs, () => act(-1));
        return {};
      }
      default:
        return undefined;
    }
  }

  /** Run `action` after `delayNs`, then every `periodNs` if non-zero; timers never keep the process alive. */
  private schedule(delayNs: bigint, periodNs: bigint, action: () => void): void {
    // setTimeout takes at most 2^31-1 ms (~24.8 days) and fires at once beyond it.
    const ms = (ns: bigint) => Number(ns / NS_PER_MS > MAX_TIMER_MS ? MAX_TIMER_MS : ns / NS_PER_MS);
    const first = setTimeout(() => {
      this.timers.delete(first);
      action();
      if (periodNs > 0n) {
        const every = setInterval(action, Math.max(1, ms(periodNs)));
        every.unref();
        this.timers.add(every);
      }
    }, ms(delayNs));
    first.unref();
    this.timers.add(first);
  }
}
