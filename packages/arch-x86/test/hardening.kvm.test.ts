/**
 * Failure paths on real KVM (issue #12 items 4 and 5): user callbacks that throw end the run with
 * a typed error through run() — never an uncaught exception — and leave the machine closable;
 * run() called again has one rule per way the last run ended; every public method of the
 * machine, a vCPU and the VM after close() throws a LifecycleError or settles (none hangs, none
 * meets a detached buffer).
 */
import 'reflect-metadata';
import * as path from 'node:path';
import { ConfigError, LifecycleError, M5opHandlerError, UserCallbackError, VcpuThreadError, createMachine, type Machine, type MachineExit } from '@kvmts/core';
import { assembleGuest, exitDevice, m5ops, uart8250, type GuestImage } from '@kvmts/arch-x86';

const throwingPort = path.resolve(__dirname, 'fixtures/throwing-port-plugin.js');
/** long-mode-tests' TEST_PORT_OUT: pio_basic writes 0x11 there first. */
const TEST_PORT_OUT = 0x10;
const DATA_GPA = 0x100000;

let tests: GuestImage;
let demo: GuestImage;
beforeAll(() => {
  tests = assembleGuest('long-mode-tests');
  demo = assembleGuest('demo-checksum');
});

/** The demo guest: UART output, a checkpoint m5op half-way, then power-off. */
function demoMachine(options: { console?: (b: Uint8Array) => void; withM5ops?: boolean } = {}): Promise<Machine> {
  const data = new Uint8Array(4096).fill(7);
  return createMachine(
    {
      arch: 'x86_64',
      memory: '16M',
      devices: [uart8250(), exitDevice({}, 'exit'), ...(options.withM5ops ? m5ops() : [])],
      boot: { kind: 'flat', mode: 'long', cpl: 3, image: demo.bytes, entry: demo.entry, registers: { rdi: DATA_GPA, rsi: data.length }, data: [{ gpa: DATA_GPA, bytes: data }] },
    },
    { console: options.console ?? (() => undefined) },
  );
}

function spinMachine(): Promise<Machine> {
  return createMachine({ arch: 'x86_64', memory: '16M', devices: [exitDevice()], boot: { kind: 'flat', mode: 'long', cpl: 3, image: tests.bytes, entry: tests.symbols.get('spin')! } });
}

function errorOf(exit: MachineExit): Error {
  expect(exit.reason).toBe('error');
  return (exit as { error: Error }).error;
}

/** Unhandled rejections and uncaught exceptions seen while a test runs (there must be none). */
function watchEscapes(): { escaped: unknown[]; stop(): void } {
  const escaped: unknown[] = [];
  const record = (e: unknown) => escaped.push(e);
  process.on('unhandledRejection', record);
  process.on('uncaughtException', record);
  return { escaped, stop: () => (process.off('unhandledRejection', record), process.off('uncaughtException', record)) };
}

describeKvm('user callbacks that throw', () => {
  it('a console sink that throws ends the run with UserCallbackError (cause attached); run() again is refused; close() works', async () => {
    const watch = watchEscapes();
    const boom = new RangeError('the sink is full');
    const m = await demoMachine({ console: () => { throw boom; } });
    try {
      const error = errorOf(await m.run());
      expect(error).toBeInstanceOf(UserCallbackError);
      expect(error.message).toBe('the console sink threw: RangeError: the sink is full');
      expect((error as UserCallbackError).callback).toBe('the console sink');
      expect(error.cause).toBe(boom);
      await expect(m.run()).rejects.toThrow(new LifecycleError('machine', 'failed: UserCallbackError', 'run (close it; its guest state is what the failure left)'));
    } finally {
      await m.close();
      watch.stop();
    }
    expect(watch.escaped).toEqual([]);
  });

  it('a device hook that throws ends the run with VcpuThreadError carrying the original error', async () => {
    const m = await createMachine({
      arch: 'x86_64',
      memory: '16M',
      plugins: [throwingPort],
      devices: [exitDevice(), { plugin: throwingPort, type: 'test-throwing-port', name: 'bad', options: { port: TEST_PORT_OUT } }],
      boot: { kind: 'flat', mode: 'long', cpl: 3, image: tests.bytes, entry: tests.symbols.get('pio_basic')! },
    });
    try {
      const error = errorOf(await m.run());
      expect(error).toBeInstanceOf(VcpuThreadError);
      expect(error.message).toBe('vCPU 0 thread: TypeError: the device hook failed on 0x11');
      expect(error.cause).toMatchObject({ name: 'TypeError', message: 'the device hook failed on 0x11' });
    } finally {
      await m.close();
    }
  });

  it('an m5op handler that throws (or rejects) ends the run with M5opHandlerError, the cause attached', async () => {
    for (const handler of [() => { throw new Error('handler bug'); }, () => Promise.reject(new Error('handler bug'))]) {
      const m = await demoMachine({ withM5ops: true });
      try {
        m.m5ops.handle('checkpoint', handler);
        const error = errorOf(await m.run());
        expect(error).toBeInstanceOf(M5opHandlerError);
        expect(error.message).toBe('m5op checkpoint on vCPU 0: the handler failed: handler bug');
        expect((error.cause as Error).message).toBe('handler bug');
      } finally {
        await m.close();
      }
    }
  });
});

describeKvm('run() called again', () => {
  it('after stop(): resumes; after a power-off: LifecycleError; a bad maxExits: ConfigError naming it, the machine still runs', async () => {
    const spin = await spinMachine();
    try {
      const first = spin.run();
      await new Promise((r) => setTimeout(r, 100));
      await expect(spin.run()).rejects.toThrow(LifecycleError); // one run at a time
      await spin.stop();
      expect(await first).toEqual({ reason: 'stopped' });
      const second = spin.run(); // resumes
      await new Promise((r) => setTimeout(r, 100));
      await spin.stop();
      expect(await second).toEqual({ reason: 'stopped' });
    } finally {
      await spin.close();
    }
    const m = await demoMachine();
    try {
      await expect(m.run({ maxExits: 0 })).rejects.toThrow(new ConfigError('maxExits', 'must be a positive whole number of exits, got 0'));
      expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
      await expect(m.run()).rejects.toThrow(new LifecycleError('machine', 'powered off', 'run (restore a checkpoint or create a new machine)'));
    } finally {
      await m.close();
    }
  });
});

/** Each call either throws / rejects with a LifecycleError or settles; none may hang. */
type Outcome = 'lifecycle' | 'settles';

const AFTER_CLOSE: [string, (m: Machine) => unknown, Outcome][] = [
  ['machine.run()', (m) => m.run(), 'lifecycle'],
  ['machine.checkpoint()', (m) => m.checkpoint('/nonexistent/ck'), 'lifecycle'],
  ['machine.memory.read()', (m) => m.memory.read(DATA_GPA, 16), 'lifecycle'],
  ['machine.memory.write()', (m) => m.memory.write(DATA_GPA, Uint8Array.of(1)), 'lifecycle'],
  ['machine.stop()', (m) => m.stop(), 'settles'],
  ['machine.close()', (m) => m.close(), 'settles'],
  ['machine.exitCounts()', (m) => m.exitCounts(), 'settles'],
  ['machine.deviceState', (m) => m.deviceState, 'settles'],
  ['machine.device()', (m) => m.device('exit'), 'settles'],
  ['machine.m5ops.handle()', (m) => m.m5ops.handle('exit', () => undefined), 'settles'],
  ['vcpu.start()', (m) => m.vcpus[0].start(), 'lifecycle'],
  ['vcpu.runFor()', (m) => m.vcpus[0].runFor(1000n), 'lifecycle'],
  ['vcpu.runInstructions()', (m) => m.vcpus[0].runInstructions(10), 'lifecycle'],
  ['vcpu.call(dump)', (m) => m.vcpus[0].call('dump'), 'lifecycle'],
  ['vcpu.stop()', (m) => m.vcpus[0].stop(100), 'settles'],
  ['vcpu.exitCounts()', (m) => m.vcpus[0].exitCounts(), 'settles'],
  ['vcpu.close()', (m) => m.vcpus[0].close(), 'settles'],
  ['vm.memory()', (m) => m.vm.memory(), 'lifecycle'],
  ['vm.checkExtension()', (m) => m.vm.checkExtension(1), 'lifecycle'],
  ['vm.setIrqLine()', (m) => m.vm.setIrqLine(4, true), 'lifecycle'],
  ['vm.addIrqfd()', (m) => m.vm.addIrqfd(4), 'lifecycle'],
  ['vm.addMemoryRegion()', (m) => m.vm.addMemoryRegion({ name: 'late', guestPhysAddr: 0x4000000, size: 4096 }), 'lifecycle'],
  ['vm.addCoalescedZone()', (m) => m.vm.addCoalescedZone({ base: 0x3f8, size: 8, pio: true }), 'lifecycle'],
  ['vm.createVcpu()', (m) => m.vm.createVcpu(5), 'lifecycle'],
  ['vm.close()', (m) => m.vm.close(), 'settles'],
];

describeKvm('every method after close()', () => {
  let m: Machine;
  beforeAll(async () => {
    m = await demoMachine();
    expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
    await m.close();
  });

  it.each(AFTER_CLOSE)('%s', async (_, call, outcome) => {
    let result: unknown;
    try {
      const value = call(m);
      const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('never settled')), 5000).unref());
      result = { value: await Promise.race([Promise.resolve(value), timeout]) };
    } catch (e) {
      result = { error: e };
    }
    if (outcome === 'lifecycle') {
      expect(result).toEqual({ error: expect.any(LifecycleError) });
    } else {
      expect(result).not.toHaveProperty('error');
    }
  });
});
