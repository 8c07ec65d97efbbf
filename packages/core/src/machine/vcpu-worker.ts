/**
 * Entry point of a vCPU worker thread. It rebuilds, inside the thread, everything an exit
 * needs — the arch CPU, the buses, one instance of every device — so that the exit path never
 * leaves the thread. Its container is a fresh, parentless one holding the same plugin modules
 * as the machine's (tsyringe's global root is never touched); the vCPU's own parts live in a
 * child of it. It then waits for commands from the machine (run / call / exit).
 *
 * The thread outlives its machine: it starts empty (modules loaded, nothing built), builds a
 * vCPU on 'build', and on 'exit' drops that vCPU and its devices and says 'released', ready to
 * build the next machine's vCPU (vcpu-worker-pool.ts keeps such threads).
 */
import 'reflect-metadata';
import { parentPort } from 'node:worker_threads';
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
import { setNoticeSink } from '../timing/pmu';
import { ConfigError } from '../errors/errors';
import type { ArchPlugin } from './arch-plugin';
import type { Device } from '../bus/device';
import { restoreLocalDeviceStates, saveLocalDeviceStates, type NamedDevice } from '../checkpoint/device-states';
import { restoreVcpuState, saveVcpuState, type SavedVcpuState } from '../checkpoint/vcpu-state';
import { threadHeapStatistics } from './thread-heap';

let data: VcpuWorkerData;
const port = parentPort!;
const post = (m: FromWorker): void => port.postMessage(m);

// Numbered when posted, before this vCPU re-enters the guest (console-order.ts says why that is the guest's order).
let consoleSequence: Uint32Array = new Uint32Array(0);
const console$ = new ConsoleBuffer((bytes) => post({ ev: 'console', bytes, seq: takeConsoleSequence(consoleSequence) }));

function build(): { arch: ArchPlugin; cpu: KvmCPU; devices: NamedDevice[]; irq: IrqLineSwitch } {
  const threadContainer = createIsolatedContainer();
  loadPlugins(threadContainer, data.modules);
  const arch = findArchPlugin(threadContainer, data.arch);
  // Interrupt lines are driven straight from this thread: the VM fd is valid process-wide. The
  // CPU gets them too, for in-kernel devices that report their levels to userspace.
  const irq = new IrqLineSwitch(arch.irqLines?.(data.vmFd, data.initialState) ?? new IrqLineDriver(data.vmFd));
  const { container, cpu } = buildVcpu(threadContainer, arch, data, {
    stats: new Float64Array(data.stats),
    control: new Int32Array(data.control),
    unclaimed: data.unclaimed,
    timing: data.timing,
    irqLines: irq,
  });
  console$.lineBuffered = data.vcpuCount === 1;
  consoleSequence = new Uint32Array(data.consoleSequence);
  const instances: Device[] = attachVcpuDevices(container, cpu, data.devices, {
    consoleWrite: (byte) => console$.push(byte),
    // The buffer hands on whole lines; a prompt without a newline goes when the UART says so.
    consoleFlush: () => console$.flush(),
    setIrqLine: (line, level) => irq.set(line, level),
    claimIrqLines: (controller, by) => irq.claim(controller, by),
    memory: new GuestMemory(data.regions),
  });
  return { arch, cpu, devices: instances.map((device, i) => ({ name: data.devices[i].name, device })), irq };
}

// The machine's thread gives the one-time notices (VcpuController), once per process.
setNoticeSink(() => undefined);

let arch: ArchPlugin;
let cpu: KvmCPU | undefined;
let devices: NamedDevice[];
/** This thread's device lines (machine/machine-irq-lines.ts forwards them to the main thread while a plugin holds the machine's). */
let irq: IrqLineSwitch;
port.on('message', (m: ToWorker) => {
  if (m.op === 'build') {
    try {
      // The native addon loads here, with the first vCPU this thread builds, not when the thread
      // starts: a thread started ahead of need (vcpu-thread-start.ts) may still be starting when
      // its program exits (a command line refused at once), and Node aborting the process in
      // the middle of the addon's registration is a crash (FATAL ERROR … napi_throw) instead of
      // that program's exit status. Installing the handler again (a reused thread) is harmless.
      native.installKickHandler();
      data = m.data;
      ({ arch, cpu, devices, irq } = build());
      post({ ev: 'ready', thread: native.currentThread() });
    } catch (e) {
      post({ ev: 'error', error: serializeError(e) });
      process.exit(0);
    }
    return;
  }
  if (cpu === undefined) {
    // Nothing built (a released thread): answer what expects an answer, never leave it waiting.
    if (m.op === 'call') post({ ev: 'result', id: m.id, error: serializeError(new ConfigError(m.method, 'this vCPU thread serves no vCPU')) });
    else if (m.op !== 'exit') post({ ev: 'error', error: serializeError(new ConfigError(m.op, 'this vCPU thread serves no vCPU')) });
    return;
  }
  switch (m.op) {
    case 'run':
    case 'runFor':
    case 'runInstructions':
      try {
        const { stop, executed } = runOnce(cpu, m);
        console$.flush();
        post({ ev: 'stopped', stop, executed });
      } catch (e) {
        console$.flush();
        post({ ev: 'error', error: serializeError(e) });
      }
      return;
    case 'call':
      try {
        let value: unknown;
        switch (m.method) {
          case 'dump':
            value = cpu.dump();
            break;
          case 'threadContext':
            value = cpu.getThreadContext().toJSON();
            break;
          case 'exitCounts':
            value = cpu.exitCounts();
            break;
          case 'drain':
            value = cpu.drain();
            break;
          case 'switchOut':
            value = cpu.switchOut().toJSON();
            break;
          case 'setThreadContext':
            cpu.takeOverFrom(arch.threadContextFromData(m.args[0]));
            break;
          case 'saveDeviceStates':
            value = saveLocalDeviceStates(devices);
            break;
          case 'restoreDeviceStates':
            restoreLocalDeviceStates(devices, m.args[0] as Record<string, unknown>);
            break;
          case 'saveVcpuState':
            value = saveVcpuState(cpu, devices);
            break;
          case 'restoreVcpuState':
            value = restoreVcpuState(cpu, arch, devices, m.args[0] as SavedVcpuState);
            break;
          case 'simTicks':
            value = isTimedCpu(cpu) ? cpu.timing.ticks : 0n;
            break;
          case 'kernelStats':
            value = readKernelStats(cpu.openStatsFd());
            break;
          case 'heapStatistics':
            value = threadHeapStatistics(m.args[0] as { gc?: boolean } | undefined);
            break;
          case 'forwardIrqLines':
            irq.claim({ set: (line, level) => post({ ev: 'irq-line', line, level }) }, m.args[0] as string);
            break;
          case 'releaseIrqLines':
            irq.release(m.args[0] as string);
            break;
        }
        post({ ev: 'result', id: m.id, value });
      } catch (e) {
        post({ ev: 'result', id: m.id, error: serializeError(e) });
      }
      return;
    case 'exit':
      // Drop this vCPU (its fds belong to the machine, which closes them) and stay up for the next.
      console$.flush();
      cpu.close();
      cpu = undefined;
      devices = [];
      irq = undefined as unknown as IrqLineSwitch;
      // Nothing of this machine stays pinned by an idle pooled thread (its device buffers, regions, boot state).
      data = undefined as unknown as VcpuWorkerData;
      post({ ev: 'released' });
      return;
  }
});

/** One run request; a CPU with simulated time (every BaseKvmCPU) measures plain runs too. */
function runOnce(cpu: KvmCPU, m: Extract<ToWorker, { op: 'run' | 'runFor' | 'runInstructions' }>): { stop: CpuStop; executed?: number } {
  const timed = isTimedCpu(cpu) ? cpu : undefined;
  if (m.op === 'run') return { stop: timed ? timed.timing.run(m.maxExits ?? Infinity) : cpu.runLoop(m.maxExits ?? Infinity) };
  if (timed === undefined) throw new ConfigError(m.op, `the ${data.arch} CPU has no simulated time`);
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
