/**
 * Interrupts reach the guest's IDT handlers in both interrupt modes (interrupt-tests.S):
 *  - irqchip 'kernel': a device line (the UART through the in-kernel 8259 and LAPIC LINT0), an
 *    irqfd write, KVM_SIGNAL_MSI and an irqfd on an MSI route of the GSI routing table; the
 *    in-kernel PIT wakes a guest that sleeps in HLT, in the kernel (no HLT exit to userspace);
 *  - irqchip 'userspace': the UART's line while the guest has IF = 0 (delivered through the
 *    interrupt window when it sets IF), an NMI from the host to a vCPU spinning without exits
 *    (the kick), a host-raised line waking a vCPU halted in userspace.
 *    A line raised in one vCPU's thread interrupts vCPU 0 in another; a stop request ends a run
 *    whose vCPU waits in HLT for an interrupt that never comes.
 * The host acts when the guest publishes a phase number in its memory (the guest's contract).
 */
import { Irqfd, MsiSignaller, type Machine } from '@kvmts/core';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createMachine, restoreMachine } from '@kvmts/core';
import {
  assembleGuest,
  exitDevice,
  readExitDeviceState,
  uart8250,
  USERSPACE_IRQ_VECTOR_BASE,
  x86GsiRouting,
  x86Msi,
  x86UserspaceInterrupts,
  type X86RegisterValues,
} from '@kvmts/arch-x86';

const guest = assembleGuest('interrupt-tests');
const sym = (name: string): number => guest.symbols.get(name)!;
const COM1_IRQ = 4;
const RUN_TIMEOUT_MS = 90_000;

async function machineFor(irqchip: 'kernel' | 'userspace', entry: string, registers?: X86RegisterValues | X86RegisterValues[]): Promise<Machine> {
  return createMachine({
    arch: 'x86_64',
    memory: '16M',
    cpus: Array.isArray(registers) ? registers.length : 1,
    archOptions: { irqchip },
    devices: [uart8250({ irq: COM1_IRQ }, 'com1'), exitDevice({}, 'exit')],
    // 4 GiB identity-mapped: the LAPIC page at 0xfee00000 is reachable.
    boot: { kind: 'flat', mode: 'long', cpl: 0, image: guest.bytes, entry: sym(entry), mapBytes: 2 ** 32, ...(registers ? { registers } : {}) },
  }, { console: () => undefined });
}

function readU32(m: Machine, gpa: number): number {
  return new DataView(m.memory.read(gpa, 4).buffer.slice(0)).getUint32(0, true);
}

const count = (m: Machine, vector: number): number => readU32(m, sym('counts') + 4 * vector);

/**
 * Run `m`; when the guest publishes phase n, call actions[n] once. A guest that hangs is stopped
 * after RUN_TIMEOUT_MS and the test fails naming the phase it was in.
 */
async function runWithPhases(m: Machine, actions: Record<number, () => void>): Promise<unknown> {
  let finished = false;
  const running = m.run().finally(() => (finished = true));
  const done = new Set<number>();
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  while (!finished) {
    const phase = readU32(m, sym('phase'));
    if (actions[phase] !== undefined && !done.has(phase)) {
      done.add(phase);
      actions[phase]();
    }
    if (Date.now() > deadline) {
      await m.stop();
      throw new Error(`guest stuck in phase ${phase} (last vector ${readU32(m, sym('last_vector'))})`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return running;
}

describeKvm('interrupts: in-kernel irqchip', () => {
  it('a device line, an irqfd write, KVM_SIGNAL_MSI and an irqfd on an MSI route each reach the IDT handler', async () => {
    const m = await machineFor('kernel', 'kernel_irqs');
    try {
      const pinIrqfd = Irqfd.assign(m.vm, 3);
      const routing = x86GsiRouting(m.vm);
      const msiGsi = routing.addMsiRoute(x86Msi({ apicId: 0, vector: 0x41 }));
      routing.commit();
      const msiIrqfd = Irqfd.assign(m.vm, msiGsi);
      const msi = new MsiSignaller(m.vm.fd);
      let delivered: boolean | undefined;
      const exit = await runWithPhases(m, {
        2: () => pinIrqfd.trigger(),
        3: () => (delivered = msi.signal(x86Msi({ apicId: 0, vector: 0x40 }))),
        4: () => msiIrqfd.trigger(),
      });
      expect(exit).toEqual({ reason: 'poweroff', status: 0 });
      expect(readExitDeviceState(m.deviceState.get('exit')!)).toMatchObject({ hasResult: true, result: 4 });
      expect(msiGsi).toBeGreaterThanOrEqual(24); // above the default PIC/IOAPIC routes
      expect(x86GsiRouting(m.vm)).toBe(routing); // one table per VM
      expect(delivered).toBe(true);
      // Each source reached its own vector exactly once; the UART's line went through the PIC (0x20 + 4).
      expect([0x24, 0x23, 0x40, 0x41].map((v) => count(m, v))).toEqual([1, 1, 1, 1]);
      // The guest waited in HLT for each of them, in the kernel.
      expect(m.exitCounts()[0].HLT).toBeUndefined();
      pinIrqfd.release();
      msiIrqfd.release();
    } finally {
      await m.close();
    }
  });

  it('PIT channel 0 ticks wake a guest halted in the kernel, with no HLT exit to userspace', async () => {
    const ticks = 20;
    const divisor = 5966; // 1.193182 MHz / 5966 ≈ 200 Hz
    const m = await machineFor('kernel', 'pit_ticks', { rcx: divisor, rdx: ticks });
    try {
      const started = Date.now();
      const exit = await runWithPhases(m, {});
      const elapsedMs = Date.now() - started;
      expect(exit).toEqual({ reason: 'poweroff', status: 0 });
      const counted = readExitDeviceState(m.deviceState.get('exit')!).result;
      expect(counted).toBeGreaterThanOrEqual(ticks);
      expect(count(m, 0x20)).toBe(counted);
      // The ticks are real time: 19 periods of 5 ms at least (the first may come at once).
      expect(elapsedMs).toBeGreaterThanOrEqual(((ticks - 1) * divisor * 1000) / 1193182 - 1);
      expect(m.exitCounts()[0].HLT).toBeUndefined();
      const stats = await m.vcpus[0].call<Record<string, string>>('kernelStats');
      expect(Number(stats.halt_exits)).toBeGreaterThanOrEqual(1);
    } finally {
      await m.close();
    }
  });
});

describeKvm('interrupts: userspace interrupt controller', () => {
  it('a device line raised with IF = 0 arrives through the interrupt window; a host NMI and a host line reach their handlers', async () => {
    const m = await machineFor('userspace', 'user_irqs');
    try {
      const pic = x86UserspaceInterrupts(m.vm);
      const exit = await runWithPhases(m, {
        2: () => pic.raiseNmi(0),
        3: () => {
          pic.set(5, true);
          pic.set(5, false);
        },
      });
      expect(exit).toEqual({ reason: 'poweroff', status: 0 });
      // Bit 31 would say the UART's vector arrived while IF was 0.
      expect(readExitDeviceState(m.deviceState.get('exit')!)).toMatchObject({ hasResult: true, result: 3 });
      expect(count(m, USERSPACE_IRQ_VECTOR_BASE + COM1_IRQ)).toBe(1);
      expect(count(m, 2)).toBe(1);
      expect(count(m, USERSPACE_IRQ_VECTOR_BASE + 5)).toBe(1);
      const exits = m.exitCounts()[0];
      // The UART's vector waited for the window: KVM reported it open once the guest set IF.
      expect(exits.IRQ_WINDOW_OPEN).toBeGreaterThanOrEqual(1);
      // The guest halted in userspace waiting for line 5 (no in-kernel LAPIC to sleep in).
      expect(exits.HLT).toBeGreaterThanOrEqual(1);
      expect(pic.pending(0)).toBe(0);
    } finally {
      await m.close();
    }
  });

  it('a vector pending when the machine is checkpointed is delivered after restore', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-uirq-'));
    const m = await machineFor('userspace', 'user_irqs');
    try {
      const pic = x86UserspaceInterrupts(m.vm);
      // Phase 3: the guest waits in HLT (IF = 1) for line 5. Stop it there, raise the line on the
      // stopped machine (pending, not yet injected), and checkpoint.
      await runWithPhases(m, { 2: () => pic.raiseNmi(0), 3: () => void m.stop() });
      expect(readU32(m, sym('phase'))).toBe(3);
      pic.set(5, true);
      expect(pic.pending(0)).toBe(1);
      await m.checkpoint(path.join(dir, 'ckpt'));
    } finally {
      await m.close();
    }
    const restored = await restoreMachine(path.join(dir, 'ckpt'), { console: () => undefined });
    try {
      expect(await restored.run()).toEqual({ reason: 'poweroff', status: 0 });
      expect(readExitDeviceState(restored.deviceState.get('exit')!)).toMatchObject({ hasResult: true, result: 3 });
      expect(count(restored, USERSPACE_IRQ_VECTOR_BASE + 5)).toBe(1);
    } finally {
      await restored.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a line raised in vCPU 1\'s thread interrupts vCPU 0, halted in another thread', async () => {
    const m = await machineFor('userspace', 'user_cross', [{ rdi: 0 }, { rdi: 1 }]);
    try {
      const exit = await runWithPhases(m, {});
      expect(exit).toEqual({ reason: 'poweroff', status: 0 });
      expect(readExitDeviceState(m.deviceState.get('exit')!)).toMatchObject({ hasResult: true, result: USERSPACE_IRQ_VECTOR_BASE + COM1_IRQ });
      expect(count(m, USERSPACE_IRQ_VECTOR_BASE + COM1_IRQ)).toBe(1);
      // vCPU 1 ended with `cli; hlt`: nothing can wake it, so its run ended there.
      expect(m.vcpus[1].lastStop).toEqual({ reason: 'halted' });
      expect(m.exitCounts()[0].HLT).toBeGreaterThanOrEqual(1);
    } finally {
      await m.close();
    }
  });

  it('a stop request ends a run whose vCPU waits in HLT for an interrupt that never comes', async () => {
    const m = await machineFor('userspace', 'user_irqs');
    try {
      const pic = x86UserspaceInterrupts(m.vm);
      const running = m.run();
      const deadline = Date.now() + RUN_TIMEOUT_MS;
      let nmiSent = false;
      // Phase 2 waits for an NMI; phase 3 waits in HLT for line 5, which this test never raises.
      while (readU32(m, sym('phase')) !== 3 || (m.exitCounts()[0].HLT ?? 0) < 1) {
        if (readU32(m, sym('phase')) === 2 && !nmiSent) {
          pic.raiseNmi(0);
          nmiSent = true;
        }
        if (Date.now() > deadline) throw new Error(`guest never reached its HLT in phase 3 (phase ${readU32(m, sym('phase'))})`);
        await new Promise((r) => setTimeout(r, 5));
      }
      const t0 = Date.now();
      await m.stop();
      // Acknowledged by the vCPU thread (it looks for stops while it waits), not terminated.
      expect(await running).toEqual({ reason: 'stopped' });
      expect(m.vcpus[0].lastStop).toEqual({ reason: 'stopped' });
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(count(m, USERSPACE_IRQ_VECTOR_BASE + 5)).toBe(0);
    } finally {
      await m.close();
    }
  });
});
