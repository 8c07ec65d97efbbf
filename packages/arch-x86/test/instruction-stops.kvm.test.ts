/**
 * Exact instruction stops and run timers on real KVM (the instruction-stops guest, long mode,
 * CPL0). runInstructions(n) must land on the instruction the guest's known sequence puts at n —
 * rip and registers — for several n, across port I/O served by userspace devices and through a
 * REP string instruction (which counts once per iteration: measured here); runFor(ticks) ends a
 * guest that never exits with reason 'time' after at least the ticks asked, and leaves no stop
 * behind for the next run.
 */
import { ConfigError, LifecycleError, SimulatedTime, TICKS_PER_SECOND, createMachine, setNoticeSink, type CpuStop, type Machine } from '@kvmts/core';
import { assembleGuest, exitDevice, type GuestImage, type X86KvmCPU } from '@kvmts/arch-x86';
import { makeRig, RecordingDevice, type Rig } from './support/harness';

const POWEROFF: CpuStop = { reason: 'poweroff', status: 0 };
const IN_ANSWER = 0x5a;

let guest: GuestImage | undefined;
function stopsGuest(): GuestImage {
  guest ??= assembleGuest('instruction-stops');
  return guest;
}

function at(label: string): bigint {
  const a = stopsGuest().symbols.get(label);
  if (a === undefined) throw new Error(`instruction-stops has no label ${label}`);
  return BigInt(a);
}

describeKvm('exact instruction stops and run timers on real KVM (x86)', () => {
  let rigs: Rig[] = [];
  const notices: string[] = [];
  let previousSink: ((line: string) => void) | undefined;
  beforeAll(() => {
    previousSink = setNoticeSink((line) => notices.push(line));
  });
  afterAll(() => {
    if (previousSink) setNoticeSink(previousSink);
  });
  afterEach(() => {
    for (const r of rigs) r.close();
    rigs = [];
  });

  function start(entry: string, registers: Record<string, number> = {}): { cpu: X86KvmCPU; out: RecordingDevice; inp: RecordingDevice } {
    const rig = makeRig(
      { kind: 'flat', mode: 'long', cpl: 0, image: stopsGuest().bytes, entry: Number(at(entry)), registers },
      { devices: [exitDevice()], memory: [{ name: 'ram', guestPhysAddr: 0, size: 4 << 20 }] },
    );
    rigs.push(rig);
    const cpu = rig.cpus[0];
    const out = new RecordingDevice('out-port');
    const inp = new RecordingDevice('in-port', () => [IN_ANSWER, 0]);
    cpu.pio.attach({ base: 0x10, size: 1 }, out);
    cpu.pio.attach({ base: 0x11, size: 1 }, inp);
    return { cpu, out, inp };
  }

  // [n, k (rcx in), expected rip label, expected rbx, expected rcx]
  const cases: [number, number, string, bigint, bigint][] = [
    [1, 5, 'count_add', 0n, 5n],
    [2, 5, 'count_dec', 5n, 5n],
    [7, 5, 'count_add', 5n + 4n, 3n],
    // 1 + 33 rounds of 3: rbx = 40 + 39 + … + 8
    [100, 40, 'count_add', 792n, 7n],
  ];
  it.each(cases)('runInstructions(%i) with rcx = %i lands on %s with the loop registers of that point', (n, k, label, rbx, rcx) => {
    const { cpu } = start('count_loop', { rcx: k });
    const run = cpu.runInstructions(n);
    expect(run).toEqual({ stop: { reason: 'instructions', count: n, pc: at(label) }, executed: n });
    const regs = cpu.getRegs();
    expect(regs.rip).toBe(at(label));
    expect(regs.rbx).toBe(rbx);
    expect(regs.rcx).toBe(rcx);
    expect(cpu.guestDebug().singleStep).toBe(false);
    // The guest goes on correctly from there.
    expect(cpu.runLoop()).toEqual(POWEROFF);
    expect(cpu.getRegs().rbx).toBe(BigInt((k * (k + 1)) / 2));
  });

  it('a count crossing port I/O served in userspace counts each OUT and IN once', () => {
    // k = 3: 10 loop instructions, the OUT is the 11th, the IN the 12th.
    const { cpu, out, inp } = start('count_loop', { rcx: 3 });
    expect(cpu.runInstructions(11).stop).toEqual({ reason: 'instructions', count: 11, pc: at('count_in') });
    expect(out.writes).toHaveLength(1);
    expect(inp.reads).toHaveLength(0);
    expect(cpu.runInstructions(1).stop).toEqual({ reason: 'instructions', count: 1, pc: at('count_rep_setup') });
    expect(inp.reads).toHaveLength(1);
    expect(cpu.getRegs().rax & 0xffn).toBe(BigInt(IN_ANSWER));
    expect(cpu.getRegs().rbx).toBe(6n);
  });

  it('runs add up: 3 then 4 instructions stop where 7 do', () => {
    const { cpu } = start('count_loop', { rcx: 5 });
    expect(cpu.runInstructions(3).executed).toBe(3);
    expect(cpu.runInstructions(4).stop).toEqual({ reason: 'instructions', count: 4, pc: at('count_add') });
    expect(cpu.getRegs().rbx).toBe(9n);
    expect(cpu.getRegs().rcx).toBe(3n);
  });

  it('REP STOSB counts once per iteration (the single-step trap after each iteration)', () => {
    // k = 1: 4 loop instructions, OUT 5, IN 6, MOV 7, LEA 8, then 4 STOSB iterations 9..12, INC 13.
    const { cpu } = start('count_loop', { rcx: 1 });
    expect(cpu.runInstructions(10).stop).toEqual({ reason: 'instructions', count: 10, pc: at('count_rep') });
    expect(cpu.getRegs().rcx).toBe(2n);
    expect(cpu.runInstructions(2).stop).toEqual({ reason: 'instructions', count: 2, pc: at('count_rep_done') });
    expect(cpu.getRegs().rcx).toBe(0n);
    expect(cpu.runInstructions(1).stop).toEqual({ reason: 'instructions', count: 1, pc: at('count_done') });
    expect(cpu.getRegs().r8).toBe(1n);
  });

  it('another stop first ends the count early with that stop and the instructions so far', () => {
    // k = 1: 13 instructions to count_done, the XOR is the 14th; the exit device's OUT powers off.
    const { cpu } = start('count_loop', { rcx: 1 });
    const run = cpu.runInstructions(1000);
    expect(run.stop).toEqual(POWEROFF);
    expect(run.executed).toBe(14);
  });

  it('bad counts are ConfigErrors; the fallback is announced once', () => {
    const { cpu } = start('count_loop', { rcx: 1 });
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => cpu.runInstructions(bad)).toThrow(ConfigError);
    expect(() => cpu.runFor(0n)).toThrow(ConfigError);
    expect(notices.filter((l) => l.includes('PMU'))).toHaveLength(1);
  });

  it('runFor ends a guest that never exits with reason time, after at least the ticks asked', () => {
    const { cpu } = start('spin');
    const budget = TICKS_PER_SECOND / 200n; // 5 ms of simulated time
    const before = cpu.timing.ticks;
    const stop = cpu.runFor(budget);
    expect(stop.reason).toBe('time');
    if (stop.reason !== 'time') return;
    expect(stop.ticks).toBeGreaterThanOrEqual(budget);
    expect(cpu.timing.ticks - before).toBe(stop.ticks);
    const spun = cpu.getRegs().r9;
    expect(spun).toBeGreaterThan(0n);
    // Again: the guest goes on, time adds up.
    const again = cpu.runFor(budget);
    expect(again.reason).toBe('time');
    expect(cpu.getRegs().r9).toBeGreaterThan(spun);
    expect(cpu.timing.ticks - before).toBeGreaterThanOrEqual(2n * budget);
    // No stop request is left behind: a plain run of a terminating sequence ends on its own.
    cpu.setRegs({ rip: at('count_loop'), rcx: 2n });
    expect(cpu.runLoop()).toEqual(POWEROFF);
    expect(cpu.getRegs().rbx).toBe(3n);
  });

  it('a run that ends first returns its own stop, and hostFactor scales the host time a budget takes', () => {
    const { cpu } = start('count_loop', { rcx: 2 });
    expect(cpu.runFor(TICKS_PER_SECOND * 10n)).toEqual(POWEROFF);
    const { cpu: spinner } = start('spin');
    const fast = new SimulatedTime(spinner, { hostFactor: 4, hostFreq: 1_000_000_000 });
    try {
      const budget = TICKS_PER_SECOND / 100n; // 10 ms simulated = 2.5 ms of host time at factor 4
      const started = process.hrtime.bigint();
      const stop = fast.runFor(budget);
      const hostNs = process.hrtime.bigint() - started;
      expect(stop.reason).toBe('time');
      if (stop.reason === 'time') expect(stop.ticks).toBeGreaterThanOrEqual(budget);
      expect(hostNs).toBeGreaterThanOrEqual(2_500_000n);
      expect(fast.ticks).toBeGreaterThanOrEqual(budget);
    } finally {
      fast.close();
    }
  });
});

describeKvm('instruction stops and run timers through a machine (worker protocol)', () => {
  let machine: Machine | undefined;
  afterEach(async () => {
    await machine?.close();
    machine = undefined;
  });

  function boot(entry: string, registers: Record<string, number> = {}, timing?: { hostFreq?: number; hostFactor?: number }): Promise<Machine> {
    return createMachine({
      arch: 'x86_64',
      memory: '16M',
      devices: [exitDevice()],
      timing,
      boot: { kind: 'flat', mode: 'long', cpl: 0, image: stopsGuest().bytes, entry: Number(at(entry)), registers },
    });
  }

  it('a vCPU thread runs exactly n instructions, then on to power-off', async () => {
    machine = await boot('count_loop', { rcx: 5 });
    const vcpu = machine.vcpus[0];
    expect(await vcpu.runInstructions(7)).toEqual({ reason: 'instructions', count: 7, pc: at('count_add') });
    expect(vcpu.lastExecuted).toBe(7);
    const tc = await vcpu.call<{ regs: { rip: bigint; rbx: bigint; rcx: bigint } }>('threadContext');
    expect([tc.regs.rip, tc.regs.rbx, tc.regs.rcx]).toEqual([at('count_add'), 9n, 3n]);
    expect(await vcpu.runInstructions(1000)).toEqual(POWEROFF);
  });

  it('a vCPU thread runs for a tick budget and its tick counter holds at least that', async () => {
    machine = await boot('spin', {}, { hostFactor: 2 });
    const vcpu = machine.vcpus[0];
    const budget = TICKS_PER_SECOND / 200n;
    const stop = await vcpu.runFor(budget);
    expect(stop.reason).toBe('time');
    if (stop.reason === 'time') expect(stop.ticks).toBeGreaterThanOrEqual(budget);
    expect(await vcpu.call<bigint>('simTicks')).toBeGreaterThanOrEqual(budget);
  });

  it('a vCPU already running is not silently given a counted or timed run: LifecycleError', async () => {
    machine = await boot('spin');
    const vcpu = machine.vcpus[0];
    const plain = vcpu.start();
    expect(vcpu.start()).toBe(plain); // a second plain start is the same run
    expect(() => vcpu.runInstructions(5)).toThrow(LifecycleError);
    expect(() => vcpu.runFor(TICKS_PER_SECOND)).toThrow(/vCPU 0: cannot runFor while running \(run\)/);
    await machine.stop();
    expect((await plain).reason).toBe('stopped');
  });

  it('bad timing settings are refused before any thread starts', async () => {
    await expect(boot('spin', {}, { hostFreq: 0 })).rejects.toThrow(/^timing\.hostFreq/);
  });
});
