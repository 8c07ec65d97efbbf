/**
 * Entry point of a vCPU worker thread. It rebuilds, inside the thread, everything an exit
 * needs — the arch CPU, the buses, one instance of every device — so that the exit path never
 * leaves the thread. It then waits for commands from the machine (run / call / exit).
 */
import 'reflect-metadata';
import { parentPort, workerData } from 'node:worker_threads';
import * as native from '@kvmts/native';
import { container as rootContainer } from 'tsyringe';
import type { FromWorker, ToWorker, VcpuWorkerData } from './worker-protocol';
import { serializeError } from '../errors/serialize';
import { loadPlugins, findArchPlugin, findDevicePlugin } from './plugin-registry';
import { KVM_CPU } from '../di/tokens';
import { readStats } from '../abi/stats';
import { buildCpu } from './prepare-vm';
import type { DeviceContext } from './device-plugin';
import { ConsoleBuffer } from './console-buffer';
import { IrqLineDriver } from '../vm/irq-line';

const data = workerData as VcpuWorkerData;
const port = parentPort!;
const post = (m: FromWorker): void => port.postMessage(m);

const console$ = new ConsoleBuffer((bytes) => post({ ev: 'console', bytes }));
// Interrupt lines are driven straight from this thread: the VM fd is valid process-wide.
const irq = new IrqLineDriver(data.vmFd);

function build() {
  const container = rootContainer.createChildContainer();
  loadPlugins(container, data.modules);
  const arch = findArchPlugin(container, data.arch);
  const cpu = buildCpu(arch, data, {
    stats: new Float64Array(data.stats),
    control: new Int32Array(data.control),
    unclaimed: data.unclaimed,
  });
  container.registerInstance(KVM_CPU, cpu);
  for (const d of data.devices) {
    const plugin = findDevicePlugin(container, d.spec.type);
    const ctx: DeviceContext = {
      name: d.name,
      vcpuId: cpu.id,
      shared: d.shared,
      consoleWrite: (byte) => console$.push(byte),
      requestPowerOff: (status) => {
        cpu.requestPowerOff(status);
        post({ ev: 'poweroff', status });
      },
      setIrqLine: (line, level) => irq.set(line, level),
    };
    const device = plugin.create(ctx, d.spec.options);
    const placement = plugin.placement(d.spec.options);
    for (const r of placement.pio ?? []) cpu.pio.attach(r, device);
    for (const r of placement.mmio ?? []) cpu.mmio.attach(r, device);
  }
  return cpu;
}

let cpu: ReturnType<typeof build>;
try {
  native.installKickHandler();
  cpu = build();
  post({ ev: 'ready', thread: native.currentThread() });
} catch (e) {
  post({ ev: 'error', error: serializeError(e) });
  process.exit(0);
}

port.on('message', (m: ToWorker) => {
  switch (m.op) {
    case 'run':
      try {
        const reason = cpu.runLoop(m.maxExits ?? Infinity);
        console$.flush();
        post({ ev: 'stopped', reason, status: cpu.powerOffStatus });
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
          case 'setThreadContext':
            cpu.applyInitialState(m.args[0]);
            break;
          case 'kernelStats':
            value = readKernelStats(cpu.openStatsFd());
            break;
        }
        post({ ev: 'result', id: m.id, value });
      } catch (e) {
        post({ ev: 'result', id: m.id, error: serializeError(e) });
      }
      return;
    case 'exit':
      console$.flush();
      port.close();
      return;
  }
});

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
