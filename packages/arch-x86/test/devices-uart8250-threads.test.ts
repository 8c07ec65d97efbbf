/**
 * Two vCPU threads driving one UART: every interrupt-line change must reach KVM in the order
 * the register state changed, so the line ends at the level the final registers imply. Each
 * worker runs a Uart8250 (compiled, packages/arch-x86/dist: `npm run build` first) over one
 * SharedArrayBuffer and records every setIrqLine call with a global sequence number taken inside
 * the call — i.e. where the ioctl would reach KVM.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { uart8250Plugin } from '../src/devices';
import { interruptAsserted } from '../src/devices/uart8250/interrupts';
import { ReceiveRing } from '../src/devices/uart8250/receive-ring';
import type { UartFields } from '../src/devices/uart8250/state';
import type { SharedLayout } from '@kvmts/core';

const DIST_DEVICES = path.resolve(__dirname, '../dist/devices/index.js');
const OPTIONS = { irq: 4, rxQueueBytes: 16 };

/**
 * One vCPU's guest, at random but reproducibly (xorshift32 per worker): toggles IER and MCR.OUT2,
 * queues input, drains RBR, acknowledges THRE through IIR, writes THR, reads LSR.
 */
const WORKER = `
  const { workerData, parentPort } = require('node:worker_threads');
  const { uart8250Plugin, UART_REG: R } = require(${JSON.stringify(DIST_DEVICES)});
  const { shared, seqBuffer, options, iterations, seed } = workerData;
  const seq = new Int32Array(seqBuffer);
  const calls = [];
  const ctx = {
    name: 'uart8250@0x3f8',
    vcpuId: workerData.vcpu,
    shared,
    consoleWrite: () => undefined,
    requestPowerOff: () => undefined,
    setIrqLine: (line, level) => calls.push(Atomics.add(seq, 0, 1), level ? 1 : 0),
  };
  const uart = uart8250Plugin.create(ctx, options);
  const out = { high: 0 };
  let x = seed;
  const next = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
  Atomics.add(seq, 1, 1);
  while (Atomics.load(seq, 1) < 2) {}
  for (let i = 0; i < iterations; i++) {
    const r = next();
    switch (r % 8) {
      case 0: uart.write(R.IER_DLM, 1, [0, 0x01, 0x02, 0x03, 0x0f][(r >>> 3) % 5], 0); break;
      case 1: uart.write(R.MCR, 1, r & 8 ? 0x08 : 0x00, 0); break;
      case 2: uart.pushInput(Uint8Array.of(r >>> 8, r >>> 16).subarray(0, 1 + ((r >>> 3) & 1))); break;
      case 3: case 4: uart.read(R.RBR_THR_DLL, 1, out); break;
      case 5: uart.read(R.IIR_FCR, 1, out); break;
      case 6: uart.write(R.RBR_THR_DLL, 1, 0x2e, 0); break;
      default: uart.read(R.LSR, 1, out); break;
    }
  }
  parentPort.postMessage(calls);
`;

function runVcpu(vcpu: number, data: Record<string, unknown>): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { eval: true, workerData: { ...data, vcpu, seed: 0x9e3779b9 ^ (vcpu + 1) } });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`vCPU worker exited with code ${code}`)));
  });
}

beforeAll(() => {
  expect(fs.existsSync(DIST_DEVICES) ? 'built' : `missing ${DIST_DEVICES}: run npm run build`).toBe('built');
});

describe('uart8250 driven from two threads', () => {
  it('leaves the interrupt line at the level the final registers imply', async () => {
    const layout = uart8250Plugin.sharedLayout!(OPTIONS) as SharedLayout<UartFields>;
    const shared = new SharedArrayBuffer(layout.byteLength);
    // [0]: the global sequence of setIrqLine calls; [1]: start barrier.
    const seqBuffer = new SharedArrayBuffer(8);
    const logs = await Promise.all([0, 1].map((vcpu) => runVcpu(vcpu, { shared, seqBuffer, options: OPTIONS, iterations: 200_000 })));

    const calls: [seq: number, level: number][] = [];
    for (const log of logs) for (let i = 0; i < log.length; i += 2) calls.push([log[i], log[i + 1]]);
    calls.sort((a, b) => a[0] - b[0]);
    expect(calls.length).toBeGreaterThan(1000); // the line really moved, many times, from both threads
    expect(logs.every((log) => log.length > 0)).toBe(true);
    expect(calls.map(([seq]) => seq)).toEqual(calls.map((_, i) => i));

    const state = layout.bind(shared);
    const implied = interruptAsserted(state, new ReceiveRing(state)) ? 1 : 0;
    expect(calls[calls.length - 1][1]).toBe(implied);
    expect(state.irqLevel).toBe(implied);
    // Each call changed the level: levels alternate in sequence order, as KVM saw them.
    expect(calls.every(([, level], i) => i === 0 || level !== calls[i - 1][1])).toBe(true);
  });
});
