/**
 * What serves one vCPU for the machine, wherever it runs: it rebuilds everything an exit needs —
 * the arch CPU, the buses, one instance of every device — so that the exit path never leaves
 * its thread, then answers the machine's messages (run / call / exit; worker-protocol.ts).
 * Its container is a fresh, parentless one holding the same plugin modules as the machine's
 * (tsyringe's global root is never touched); the vCPU's own parts live in a child of it.
 *
 * Two homes (docs/architecture.md, "The run loop"):
 *  - a vCPU worker thread (vcpu-worker.ts), which runs the vCPU for as long as the run lasts;
 *  - the machine's own thread (vcpu-main-thread.ts, a one-vCPU machine created with
 *    `vcpuThread: 'main'`), where a run goes in slices (`slice`): the vCPU runs until a native
 *    slice timer stops it, the event loop turns, and the next slice starts, so timers, I/O and
 *    the machine's own calls are served meanwhile.
 *
 * A host outlives its machine: it starts empty, builds a vCPU on 'build', and on 'exit' drops
 * that vCPU and its devices and says 'released', ready to build the next machine's vCPU.
 */
import * as native from '@kvmts/native';
import type { FromWorker, ToWorker, VcpuWorkerData } from './worker-protocol';
import type { CpuStop } from '../cpu/cpu-stop';
import { serializeError } from '../errors/serialize';
import { loadPlugins, findArchPlugin } from './plugin-registry';
import { createIsolatedContainer } from '../di/container';
import { readStats } from '../abi/stats';
import { buildVcpu } from './prepare-vm';
import { attachVcpuDevices } from './devices';
import { ConsoleBuffer } from './console-buffer';
import { takeConsoleSequence } from './console-order';
import { IrqLineDriver } from '../vm/irq-line';
import { IrqLineSwitch } from '../vm/irq-line-switch';
import { GuestMemory } from '../vm/guest-memory';
import type { KvmCPU } from '../cpu/kvm-cpu';
import { isTimedCpu } from '../timing/timed-cpu';
import { ConfigError } from '../errors/errors';
import type { ArchPlugin } from './arch-plugin';
import type { Device } from '../bus/device';
import { restoreLocalDeviceStates, saveLocalDeviceStates, type NamedDevice } from '../checkpoint/device-states';
import { restoreVcpuState, saveVcpuState, type SavedVcpuState } from '../checkpoint/vcpu-state';
import { threadHeapStatistics } from './thread-heap';
import { KvmRunLayout } from '../abi/kvm-run';
import { ControlSlot, clearVcpuStop } from '../cpu/vcpu-control';
import { StatSlot } from '../cpu/exit-stats';

/** How a host on a thread with other work runs: in slices of host time, the event loop turning between them. */
export interface RunSlicing {
  /** Stops a slice from a native thread (it sets STOP and immediate_exit and kicks this thread). */
  readonly timer: native.SliceTimer;
  /** A slice's length in nanoseconds. */
  readonly sliceNs: number;
}

export interface VcpuHostOptions {
  /** A build that failed leaves the thread unusable: the worker ends itself. */
  readonly onBuildFailed?: () => void;
  /** Run in slices (the machine's thread); absent: a run holds the thread until it stops. */
  readonly slicing?: RunSlicing;
}

type RunRequest = Extract<ToWorker, { op: 'run' | 'runFor' | 'runInstructions' }>;

interface BuiltVcpu {
  readonly data: VcpuWorkerData;
  readonly arch: ArchPlugin;
  readonly cpu: KvmCPU;
  readonly devices: NamedDevice[];
  /** This vCPU's device lines (machine/machine-irq-lines.ts forwards them to the machine while a plugin holds the machine's). */
  readonly irq: IrqLineSwitch;
  readonly control: Int32Array;
  readonly stats: Float64Array;
  /** This host's view of the vCPU's kvm_run (vcpu-control.ts), and its immediate_exit byte for the slice timer. */
  readonly runBytes: Uint8Array;
  readonly immediateExit: Uint8Array;
}

export class VcpuHost {
  private built: BuiltVcpu | undefined;
  // Numbered when posted, before this vCPU re-enters the guest (console-order.ts says why that is the guest's order).
  private consoleSequence: Uint32Array = new Uint32Array(0);
  private readonly console$ = new ConsoleBuffer((bytes) => this.post({ ev: 'console', bytes, seq: takeConsoleSequence(this.consoleSequence) }));

  constructor(
    private readonly post: (m: FromWorker) => void,
    private readonly options: VcpuHostOptions = {},
  ) {}

  handle(m: ToWorker): void {
    if (m.op === 'build') {
      this.build(m.data);
      return;
    }
    const built = this.built;
    if (built === undefined) {
      // Nothing built (a released thread): answer what expects an answer, never leave it waiting.
      if (m.op === 'call') this.post({ ev: 'result', id: m.id, error: serializeError(new ConfigError(m.method, 'this vCPU thread serves no vCPU')) });
      else if (m.op !== 'exit') this.post({ ev: 'error', error: serializeError(new ConfigError(m.op, 'this vCPU thread serves no vCPU')) });
      return;
    }
    if (m.op === 'run' && this.options.slicing !== undefined) {
      this.runSliced(built, this.options.slicing, m.maxExits ?? Infinity);
      return;
    }
    switch (m.op) {
      case 'run':
      case 'runFor':
      case 'runInstructions':
        try {
          const { stop, executed } = runOnce(built, m);
          this.console$.flush();
          this.post({ ev: 'stopped', stop, executed });
        } catch (e) {
          this.console$.flush();
          this.post({ ev: 'error', error: serializeError(e) });
        }
        return;
      case 'call':
        try {
          this.post({ ev: 'result', id: m.id, value: this.call(built, m.method, m.args) });
        } catch (e) {
          this.post({ ev: 'result', id: m.id, error: serializeError(e) });
        }
        return;
      case 'exit':
        // Drop this vCPU (its fds belong to the machine, which closes them) and stay up for the next.
        this.console$.flush();
        built.cpu.close();
        // Nothing of this machine stays pinned by an idle host (its device buffers, regions, boot state).
        this.built = undefined;
        this.post({ ev: 'released' });
        return;
    }
  }

  /**
   * Forget the vCPU without closing it, as a terminated worker thread does (its fds belong to the
   * machine): a run in progress ends at its current slice, and nothing more is posted for it.
   */
  abandon(): void {
    this.built = undefined;
  }

  private build(data: VcpuWorkerData): void {
    try {
      // The native addon loads here, with the first vCPU this thread builds, not when the thread
      // starts: a thread started ahead of need (vcpu-thread-start.ts) may still be starting when
      // its program exits (a command line refused at once), and Node aborting the process in
      // the middle of the addon's registration is a crash (FATAL ERROR … napi_throw) instead of
      // that program's exit status. Installing the handler again (a reused thread) is harmless.
      native.installKickHandler();
      this.built = this.buildVcpu(data);
      this.post({ ev: 'ready', thread: native.currentThread() });
    } catch (e) {
      this.post({ ev: 'error', error: serializeError(e) });
      this.options.onBuildFailed?.();
    }
  }

  private buildVcpu(data: VcpuWorkerData): BuiltVcpu {
    const threadContainer = createIsolatedContainer();
    loadPlugins(threadContainer, data.modules);
    const arch = findArchPlugin(threadContainer, data.arch);
    // Interrupt lines are driven straight from this thread: the VM fd is valid process-wide. The
    // CPU gets them too, for in-kernel devices that report their levels to userspace.
    const irq = new IrqLineSwitch(arch.irqLines?.(data.vmFd, data.initialState) ?? new IrqLineDriver(data.vmFd));
    const control = new Int32Array(data.control);
    const stats = new Float64Array(data.stats);
    const { container, cpu } = buildVcpu(threadContainer, arch, data, { stats, control, unclaimed: data.unclaimed, timing: data.timing, irqLines: irq });
    this.console$.lineBuffered = data.vcpuCount === 1;
    this.consoleSequence = new Uint32Array(data.consoleSequence);
    const instances: Device[] = attachVcpuDevices(container, cpu, data.devices, {
      consoleWrite: (byte) => this.console$.push(byte),
      // The buffer hands on whole lines; a prompt without a newline goes when the UART says so.
      consoleFlush: () => this.console$.flush(),
      setIrqLine: (line, level) => irq.set(line, level),
      claimIrqLines: (controller, by) => irq.claim(controller, by),
      memory: new GuestMemory(data.regions),
    });
    const runBytes = new Uint8Array(native.mappingById(data.handles.runMappingId).view(0, KvmRunLayout.size));
    const immediateExit = runBytes.subarray(KvmRunLayout.immediate_exit, KvmRunLayout.immediate_exit + 1);
    return { data, arch, cpu, devices: instances.map((device, i) => ({ name: data.devices[i].name, device })), irq, control, stats, runBytes, immediateExit };
  }

  private call(built: BuiltVcpu, method: Extract<ToWorker, { op: 'call' }>['method'], args: readonly unknown[]): unknown {
    const { cpu, arch, devices, irq } = built;
    switch (method) {
      case 'dump':
        return cpu.dump();
      case 'threadContext':
        return cpu.getThreadContext().toJSON();
      case 'exitCounts':
        return cpu.exitCounts();
      case 'drain':
        return cpu.drain();
      case 'switchOut':
        return cpu.switchOut().toJSON();
      case 'setThreadContext':
        cpu.takeOverFrom(arch.threadContextFromData(args[0]));
        return undefined;
      case 'saveDeviceStates':
        return saveLocalDeviceStates(devices);
      case 'restoreDeviceStates':
        restoreLocalDeviceStates(devices, args[0] as Record<string, unknown>);
        return undefined;
      case 'saveVcpuState':
        return saveVcpuState(cpu, devices);
      case 'restoreVcpuState':
        return restoreVcpuState(cpu, arch, devices, args[0] as SavedVcpuState);
      case 'simTicks':
        return isTimedCpu(cpu) ? cpu.timing.ticks : 0n;
      case 'kernelStats':
        return readKernelStats(cpu.openStatsFd());
      case 'heapStatistics':
        return threadHeapStatistics(args[0] as { gc?: boolean } | undefined);
      case 'forwardIrqLines':
        irq.claim({ set: (line, level) => this.post({ ev: 'irq-line', line, level }) }, args[0] as string);
        return undefined;
      case 'releaseIrqLines':
        irq.release(args[0] as string);
        return undefined;
    }
  }

  /**
   * A plain run on a thread with other work: one slice now, each next one after the event loop
   * has turned (setImmediate), until a stop that is not the slice timer's. A stop the machine
   * asked for (requestVcpuStop, only possible between slices here) is seen at the next slice's
   * start: that slice is not timed and its run loop returns at once, pending I/O completed.
   */
  private runSliced(built: BuiltVcpu, slicing: RunSlicing, maxExits: number): void {
    const { cpu, control, stats, runBytes, immediateExit } = built;
    const timed = isTimedCpu(cpu) ? cpu : undefined;
    let remaining = maxExits;
    const slice = (): void => {
      if (this.built !== built) return; // released meanwhile (the machine closed)
      let stop: CpuStop;
      const requested = Atomics.load(control, ControlSlot.stop) !== 0;
      // The exits a slice took: KVM_RUN returns less the interrupted ones (cpu/exit-stats.ts).
      const exitsBefore = stats[StatSlot.runs] - stats[StatSlot.interrupted];
      try {
        if (!requested) slicing.timer.arm(control, immediateExit, slicing.sliceNs);
        try {
          stop = timed ? timed.timing.run(remaining) : cpu.runLoop(remaining);
        } finally {
          // The timer's stop request is withdrawn once it can no longer fire (slice-timer.ts).
          if (!requested && slicing.timer.disarm()) clearVcpuStop(control, runBytes);
        }
      } catch (e) {
        this.console$.flush();
        this.post({ ev: 'error', error: serializeError(e) });
        return;
      }
      remaining -= stats[StatSlot.runs] - stats[StatSlot.interrupted] - exitsBefore;
      this.console$.flush();
      if (stop.reason === 'stopped' && !requested && Atomics.load(control, ControlSlot.stop) === 0) {
        setImmediate(slice);
        return;
      }
      this.post({ ev: 'stopped', stop });
    };
    slice();
  }
}

/** One run request; a CPU with simulated time (every BaseKvmCPU) measures plain runs too. */
function runOnce(built: BuiltVcpu, m: RunRequest): { stop: CpuStop; executed?: number } {
  const { cpu } = built;
  const timed = isTimedCpu(cpu) ? cpu : undefined;
  if (m.op === 'run') return { stop: timed ? timed.timing.run(m.maxExits ?? Infinity) : cpu.runLoop(m.maxExits ?? Infinity) };
  if (timed === undefined) throw new ConfigError(m.op, `the ${built.data.arch} CPU has no simulated time`);
  return m.op === 'runFor' ? { stop: timed.runFor(m.ticks) } : timed.runInstructions(m.n);
}

/** Kernel statistics of this vCPU (KVM_GET_STATS_FD), as strings so they survive postMessage. */
function readKernelStats(fd: number): Record<string, string> {
  try {
    const out: Record<string, string> = {};
    for (const [k, v] of readStats(fd)) out[k] = Array.isArray(v) ? v.join(',') : String(v);
    return out;
  } finally {
    native.close(fd);
  }
}
