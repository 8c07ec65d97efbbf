/**
 * The userspace interrupt controller's shared state (irqchip 'userspace'): edge detection on
 * lines, priority, NMIs, and that another thread's raise wakes a vCPU waiting on it. The
 * injection into KVM (KVM_INTERRUPT, the interrupt window, KVM_NMI) runs on real KVM in
 * interrupts.kvm.test.ts.
 */
import { Worker } from 'node:worker_threads';
import { ConfigError, type KvmVM } from '@kvmts/core';
import {
  PENDING_NMI,
  PENDING_VECTOR,
  USERSPACE_IRQ_VECTOR_BASE,
  X86UserspaceInterrupts,
  createUserspaceIrqData,
  x86IrqLines,
  x86MachineOptions,
  x86UserspaceInterrupts,
} from '@kvmts/arch-x86';

/** No vCPU publishes its thread here, so no raise tries to kick one. */
const controller = (vcpus = 2): X86UserspaceInterrupts => new X86UserspaceInterrupts(createUserspaceIrqData(Array.from({ length: vcpus }, (_, id) => ({ id, size: 4096 }))));

describe('X86UserspaceInterrupts', () => {
  it('a rising edge of line n makes vector 0x20 + n pending on vCPU 0; holding or lowering the line does not', () => {
    const c = controller();
    c.set(4, true);
    c.set(4, true); // still high: no second edge
    expect(c.levels).toBe(1 << 4);
    expect(c.pendingVectors(0)).toEqual([USERSPACE_IRQ_VECTOR_BASE + 4]);
    expect(c.pending(0)).toBe(PENDING_VECTOR);
    expect(c.pending(1)).toBe(0);
    c.set(4, false);
    expect(c.levels).toBe(0);
    expect(c.pendingVectors(0)).toEqual([0x24]); // lowering does not withdraw it
    expect(c.takeVector(0)).toBe(0x24);
    expect(c.pending(0)).toBe(0);
    c.set(4, true); // a new edge
    expect(c.pendingVectors(0)).toEqual([0x24]);
  });

  it('hands out the highest vector first and keeps the summary set while any remain', () => {
    const c = controller();
    for (const v of [0x21, 0xf0, 0x40, 0x3f]) c.raiseVector(1, v);
    const taken: number[] = [];
    for (;;) {
      const v = c.takeVector(1);
      if (v < 0) break;
      taken.push(v);
      expect(c.pending(1) & PENDING_VECTOR).toBe(taken.length < 4 ? PENDING_VECTOR : 0);
    }
    expect(taken).toEqual([0xf0, 0x40, 0x3f, 0x21]);
    c.restoreVector(1, 0x3f);
    expect(c.pendingVectors(1)).toEqual([0x3f]);
    expect(c.pending(1)).toBe(PENDING_VECTOR);
  });

  it('counts NMIs separately from vectors', () => {
    const c = controller();
    c.raiseNmi(0);
    c.raiseNmi(0);
    c.raiseVector(0, 0x30);
    expect(c.pending(0)).toBe(PENDING_NMI | PENDING_VECTOR);
    expect(c.takeNmis(0)).toBe(2);
    expect(c.pending(0)).toBe(PENDING_VECTOR);
    expect(c.takeNmis(0)).toBe(0);
  });

  it('names bad lines, vectors, vCPUs and state', () => {
    const c = controller();
    expect(() => c.set(24, true)).toThrow(/line 24 is not one of the userspace controller's lines 0\.\.23/);
    expect(() => c.raiseVector(0, 8)).toThrow(/vector: must be an integer 16\.\.255, got 8/);
    expect(() => c.raiseNmi(2)).toThrow(/no vCPU 2 \(the machine has 2\)/);
    expect(() => new X86UserspaceInterrupts({ shared: new SharedArrayBuffer(8), vcpuCount: 2, runMappings: [] })).toThrow(ConfigError);
  });

  it('a raise from another thread wakes a vCPU thread waiting on its summary word', async () => {
    const data = createUserspaceIrqData([{ id: 0, size: 4096 }]);
    const c = new X86UserspaceInterrupts(data);
    // The worker plays the halted vCPU: it waits the way the HLT handler does and reports what woke it.
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const words = new Int32Array(workerData.shared, 0, workerData.words);
       parentPort.postMessage('waiting');
       const r = Atomics.wait(words, workerData.index, 0, 10000);
       parentPort.postMessage({ r, summary: Atomics.load(words, workerData.index) });`,
      { eval: true, workerData: { shared: data.shared, words: c.words.length, index: c.summaryIndex(0) } },
    );
    const messages: unknown[] = [];
    const woke = new Promise<{ r: string; summary: number }>((resolve) => worker.on('message', (m) => (m === 'waiting' ? messages.push(m) : resolve(m))));
    while (messages.length === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    c.set(3, true);
    expect(await woke).toEqual({ r: 'ok', summary: PENDING_VECTOR });
    await worker.terminate();
  });
});

describe("archOptions.irqchip 'userspace'", () => {
  it('is accepted, and anything else is named', () => {
    expect(x86MachineOptions({ irqchip: 'userspace' }).irqchip).toBe('userspace');
    expect(() => x86MachineOptions({ irqchip: 'split' })).toThrow(/archOptions\.irqchip: must be 'kernel', 'userspace' or 'none', got "split"/);
  });

  it('routes device lines to the controller only when the vCPU state carries one', () => {
    const data = createUserspaceIrqData([{ id: 0, size: 4096 }]);
    expect(x86IrqLines(-1, {})).toBeUndefined(); // KVM_IRQ_LINE then
    const lines = x86IrqLines(-1, { userspaceIrq: data })!;
    lines.set(7, true);
    expect(new X86UserspaceInterrupts(data).pendingVectors(0)).toEqual([USERSPACE_IRQ_VECTOR_BASE + 7]);
  });

  it('the host handle of a VM without the userspace controller is a ConfigError', () => {
    expect(() => x86UserspaceInterrupts({} as KvmVM)).toThrow(/archOptions\.irqchip: this VM has no userspace interrupt controller/);
  });
});
