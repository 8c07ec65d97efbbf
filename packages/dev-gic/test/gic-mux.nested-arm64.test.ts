/**
 * Nested arm64 tier: the muxing GIC (issue #10 item 4). A guest (scripts/nested/guest-asm/arm64/
 * gic-mux.s) programs the in-kernel vGICv3 — SPI A = 44 (priority 0x40) and B = 45 (0x80), both
 * edge, group 1, enabled, routed to vCPU 0 — and waits with every priority masked (PMR 0x30).
 * The machines have two vCPUs (vCPU 1 stays powered off), so the GIC has two redistributors and
 * two CPU interfaces to carry.
 *
 *  switching  the host pends A in KVM; the vCPU is drained and switched out to a simulated CPU,
 *             which hands the GIC to the userspace model: every register reads equal to the
 *             kernel's and A is pending with the guest's priority and route. The simulated side
 *             acknowledges A through the model's ICC registers and EOIs it; the host pends B,
 *             which reaches the model. KVM takes the thread back (the model's state goes back
 *             into the kernel) and, after the go, the guest takes B — and not A, which it would
 *             take first (higher priority) had the acknowledge not gone back with the state.
 *  checkpoint the same with the machine stopped rather than switched (mux.toModel()), then a
 *             checkpoint while the model holds the GIC: the original machine's run() puts the
 *             model's state back into its kernel and takes B; a fresh machine restored from the
 *             checkpoint (its GIC in the kernel) reads every register equal to the model's and
 *             takes B too.
 *  ITS        a machine whose GIC has an ITS refuses the switch-out with a ConfigError naming it.
 *
 * Then what raises interrupts while the model holds the GIC (a second guest, scripts/nested/
 * guest-asm/arm64/gic-mux-lines.s, one vCPU): the machine's PL011 on SPI U = 46 (the host pushes a
 * byte through the main thread's instance: its receive interrupt raises the line) and an irqfd on
 * SPI F = 47 (GSI 15, edge). Both must reach the model — and not the kernel's stale GIC — and
 * travel back with its state: after switching back the guest takes U (reading the byte, which
 * lowers the line) and then F.
 *
 *  level      U level-sensitive, its line still high at the switch back: the kernel's LEVEL_INFO
 *             shows it high and the guest takes it; the irqfd triggered while switched out is
 *             latched pending in the model, then in the kernel.
 *  edge       U edge-triggered (the model latches the rising edge); the irqfd is triggered after
 *             switching back — bound again in the kernel, which delivers it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ConfigError,
  HandOverSlot,
  KvmSystemEvent,
  LifecycleError,
  claimHandOver,
  createMachine,
  restoreMachine,
  type HandOver,
  type Machine,
  type MachineConfig,
  type SwitchMemory,
  type SwitchState,
  type SwitchableCpu,
  type ThreadContext,
} from '@kvmts/core';
import { pl011, type Arm64Boot, type Pl011 } from '@kvmts/arch-arm64';
import { DEV_GIC_MODULE, DEV_GIC_V3_ITS_MODULE, gicMuxOf, kernelGicOf, type GicMux, type KernelGic } from '@kvmts/dev-gic';
import { guestProgram } from './support/guest-program';
import { mark, step } from './support/steps';

const REPORT = 0x4020_0000;
const A = 44;
const B = 45;
const SLOW = 600_000;
/** Bounds of the steps (the runner's idle watchdog is 240 s: every wait fails well before it). */
const GUEST_MS = 60_000;
const HOST_MS = 30_000;
const shutdown = { reason: 'system-event', event: KvmSystemEvent.SHUTDOWN, flags: 0n };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function config(plugin = DEV_GIC_MODULE): MachineConfig<Arm64Boot> {
  return { arch: 'arm64', memory: 16 << 20, cpus: 2, plugins: [plugin], archOptions: { gic: 'kernel', timer: 'none' }, boot: { kind: 'kernel', image: guestProgram('gic-mux') } };
}

function gicOf(m: Machine): KernelGic {
  const gic = kernelGicOf(m.vm);
  if (!gic) throw new Error('no dev-gic vGIC in the machine');
  return gic;
}

function muxOf(m: Machine): GicMux {
  const mux = gicMuxOf(m.vm);
  if (!mux) throw new Error('no GIC mux for the machine');
  return mux;
}

const report = (m: Machine) => {
  const v = m.memory.view(REPORT, 72);
  const count = Number(v.getBigUint64(16, true));
  return { taken: Array.from({ length: Math.min(count, 4) }, (_, i) => v.getBigUint64(24 + 8 * i, true)), count, done: v.getBigUint64(64, true) };
};

/**
 * Run the guest until it has programmed the GIC and waits masked, pend A in KVM meanwhile (unless
 * `pendA` is false: the second guest has no A), then stop the machine (every vCPU out of KVM_RUN:
 * vCPU 1 is powered off inside it, so draining vCPU 0 alone would not end the run).
 */
async function programmedWithAPending(m: Machine, pendA = true): Promise<void> {
  const running = m.run();
  let ended: unknown;
  void running.then(
    (exit) => (ended = exit),
    (e: unknown) => (ended = e),
  );
  await step('guest programs the GIC', GUEST_MS, async () => {
    while (m.memory.view(REPORT, 8).getBigUint64(0, true) !== 1n) {
      if (ended !== undefined) throw new Error(`the run ended before the guest programmed the GIC: ${String((ended as Error)?.message ?? JSON.stringify(ended, (_, v) => (typeof v === 'bigint' ? v.toString() : v)))}`);
      await sleep(10);
    }
    await sleep(100); // into the wait loop
  }, () => m.stop());
  if (pendA) {
    mark('pend A in KVM');
    gicOf(m).setSpi(A, true); // an edge into the running vGIC: latched pending, masked by PMR 0x30
    gicOf(m).setSpi(A, false);
  }
  await step('stop the machine', HOST_MS, () => m.stop());
  expect(await step('the run ends stopped', HOST_MS, running)).toEqual({ reason: 'stopped' });
}

/** Set the guest's go flag and run it to its SYSTEM_OFF (bounded: a guest that never ends is stopped). */
async function goToTheEnd(m: Machine, label: string): Promise<unknown> {
  m.memory.view(REPORT + 8, 8).setBigUint64(0, 1n, true);
  return step(`${label}: run to SYSTEM_OFF`, GUEST_MS, m.run(), () => m.stop());
}

/** The simulated CPU's side: a CPU model that holds the thread while the test acts as its GIC client. */
class SimulatedCpu implements SwitchableCpu {
  readonly name = 'simulated CPU';
  readonly arch = 'arm64';
  switchState: SwitchState = 'switched-out';
  memory: SwitchMemory | undefined;
  private readonly slot = new HandOverSlot<ThreadContext>();
  private context: ThreadContext | undefined;
  async drain(): Promise<void> {}
  async switchOut(): Promise<void> {
    this.slot.keep(this.context!, this.memory!);
    this.switchState = 'switched-out';
  }
  async takeOverFrom(source: SwitchableCpu): Promise<void> {
    const handed = claimHandOver(this, source, this.switchState !== 'active');
    this.context = handed.context;
    this.memory = handed.memory;
    this.switchState = 'active';
  }
  handOver(taker: { readonly name: string }): HandOver<ThreadContext> {
    return this.slot.give(this, taker);
  }
}

/** Acknowledge A through the model's CPU interface as a simulated CPU would (unmask, IAR1, EOIR1, mask again). */
function acknowledgeA(mux: GicMux): void {
  const model = mux.model;
  expect(model.readSysReg(0, 'ICC_HPPIR1_EL1')).toBe(BigInt(A));
  expect(model.readSysReg(0, 'ICC_IAR1_EL1')).toBe(1023n); // PMR 0x30 masks A (priority 0x40)
  model.writeSysReg(0, 'ICC_PMR_EL1', 0xf0n);
  expect(model.readSysReg(0, 'ICC_IAR1_EL1')).toBe(BigInt(A));
  expect(model.readSysReg(0, 'ICC_RPR_EL1')).toBe(0x40n);
  model.writeSysReg(0, 'ICC_EOIR1_EL1', BigInt(A));
  expect(model.readSysReg(0, 'ICC_RPR_EL1')).toBe(0xffn);
  expect(model.readSysReg(0, 'ICC_HPPIR1_EL1')).toBe(1023n);
  model.writeSysReg(0, 'ICC_PMR_EL1', 0x30n); // as the guest left it
}

/** Pend B through the machine's GIC while the model holds it: the line reaches the model. */
function pendB(m: Machine, mux: GicMux): void {
  gicOf(m).setSpi(B, true);
  gicOf(m).setSpi(B, false);
  expect(mux.model.readSysReg(0, 'ICC_HPPIR1_EL1')).toBe(BigInt(B));
  expect(mux.model.readDistributor(0x204) & (1 << (B - 32))).not.toBe(0);
}

describe('nested arm64: the muxing GIC (in-kernel vGICv3 ↔ userspace GICv3 model)', () => {
  let machines: Machine[] = [];
  let work: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-gicmux-'));
    mark(`test: ${expect.getState().currentTestName}`);
  });
  afterEach(async () => {
    await step('close the machines', HOST_MS, Promise.all(machines.map((m) => m.close())));
    machines = [];
    fs.rmSync(work, { recursive: true, force: true });
  });
  async function machine(plugin?: string): Promise<Machine> {
    const m = await step('create the machine', HOST_MS, createMachine(config(plugin), { console: () => undefined }));
    machines.push(m);
    return m;
  }

  it('switching out hands the GIC to the model (every register equal, A pending); the simulated side acknowledges A and B is pended; switching back, the guest takes B and not A', async () => {
    const m = await machine();
    await programmedWithAPending(m);
    const kvm = m.cpu(0);
    await step('drain vCPU 0', HOST_MS, () => kvm.drain());
    const mux = muxOf(m);
    expect(mux.holder).toBe('kernel');
    mark('read the kernel GIC');
    const kernel = gicOf(m).registers();
    expect(kernel['GICD_ISPENDR+0x204']! & BigInt(1 << (A - 32))).not.toBe(0n); // A latched in KVM
    expect(kernel['cpu0 ICC_PMR_EL1']).toBe(0x30n);

    const sim = new SimulatedCpu();
    await step('switch vCPU 0 out (the GIC to the model)', HOST_MS, () => kvm.switchOut());
    await step('the simulated CPU takes the thread', HOST_MS, () => sim.takeOverFrom(kvm));
    expect(mux.holder).toBe('model');
    expect(mux.registers()).toEqual(kernel);
    const model = mux.model;
    expect(model.readDistributor(0x204) & (1 << (A - 32))).not.toBe(0); // A pending
    expect(model.readDistributor(0x42c) & 0xff).toBe(0x40); // its priority
    expect(model.readDistributor(0x6000 + 8 * A)).toBe(0); // routed to Aff 0.0.0.0
    expect(model.readDistributor(0x104) & (3 << (A - 32))).toBe(3 << (A - 32)); // A and B enabled
    expect(model.readSysReg(0, 'ICC_PMR_EL1')).toBe(0x30n);

    mark('the simulated side acknowledges A, B pended');
    acknowledgeA(mux);
    pendB(m, mux);
    const handedBack = mux.registers();

    await step('the simulated CPU switches out', HOST_MS, () => sim.switchOut());
    await step('vCPU 0 takes the thread back (the GIC to the kernel)', HOST_MS, () => kvm.takeOverFrom(sim)); // the last vCPU back
    expect(mux.holder).toBe('kernel');
    expect(gicOf(m).registers()).toEqual(handedBack);

    expect(await goToTheEnd(m, 'switched back')).toEqual(shutdown);
    expect(report(m)).toEqual({ taken: [BigInt(B)], count: 1, done: 1n });
  }, SLOW);

  it('a checkpoint taken while the model holds the GIC restores into a fresh machine with the in-kernel GIC, which delivers the pending B; run() gives the original its GIC back', async () => {
    const m = await machine();
    await programmedWithAPending(m);
    const mux = muxOf(m);
    mark('the GIC to the model (toModel)');
    const kernel = gicOf(m).registers();
    await step('toModel', HOST_MS, () => mux.toModel());
    expect(mux.registers()).toEqual(kernel);
    acknowledgeA(mux);
    pendB(m, mux);
    const modelRegisters = mux.registers();

    const dir = path.join(work, 'ckpt');
    await step('checkpoint while the model holds the GIC', HOST_MS, () => m.checkpoint(dir));
    expect(mux.holder).toBe('model'); // a checkpoint reads the model, it does not move the GIC

    expect(await goToTheEnd(m, 'original')).toEqual(shutdown); // run() resumes: the model's state back into KVM first
    expect(mux.holder).toBe('kernel');
    expect(report(m)).toEqual({ taken: [BigInt(B)], count: 1, done: 1n });
    // Closed before the restore: its vCPU threads go back to the pool and the fresh machine
    // builds in them (starting new threads takes tens of seconds in this emulated tier).
    await step('close the original', HOST_MS, () => m.close());

    const restoring = restoreMachine(dir, { console: () => undefined });
    const r = await step('restore into a fresh machine', GUEST_MS, restoring, () => void restoring.then((late) => late.close(), () => undefined));
    machines.push(r);
    expect(muxOf(r).holder).toBe('kernel');
    expect(gicOf(r).registers()).toEqual(modelRegisters);
    expect(await goToTheEnd(r, 'restored')).toEqual(shutdown);
    expect(report(r)).toEqual({ taken: [BigInt(B)], count: 1, done: 1n });
  }, SLOW);

  it('refuses to switch out a machine whose GIC has an ITS, naming it; the vCPU keeps its thread and runs on', async () => {
    const m = await machine(DEV_GIC_V3_ITS_MODULE);
    await programmedWithAPending(m);
    const kvm = m.cpu(0);
    const error = await step('switch out (refused)', HOST_MS, () =>
      kvm.switchOut().then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain('ITS');
    expect(kvm.switchState).toBe('active');
    expect(muxOf(m).holder).toBe('kernel');
    expect(await goToTheEnd(m, 'ITS')).toEqual(shutdown);
    expect(report(m).taken).toEqual([BigInt(A)]);
  }, SLOW);
});

/** The second guest's SPIs: the UART's (PL011 spi 14) and the irqfd's (GSI 15). */
const U = 46;
const F = 47;
const bit = (intid: number) => 1 << (intid - 32);

function linesConfig(): MachineConfig<Arm64Boot> {
  return {
    arch: 'arm64',
    memory: 16 << 20,
    cpus: 1,
    plugins: [DEV_GIC_MODULE],
    archOptions: { gic: 'kernel', timer: 'none' },
    devices: [pl011({ spi: U - 32 }, 'uart')],
    boot: { kind: 'kernel', image: guestProgram('gic-mux-lines') },
  };
}

describe('nested arm64: device lines and irqfds while the userspace model holds the muxed GIC', () => {
  let machines: Machine[] = [];
  beforeEach(() => mark(`test: ${expect.getState().currentTestName}`));
  afterEach(async () => {
    await step('close the machines', HOST_MS, Promise.all(machines.map((m) => m.close())));
    machines = [];
  });

  /** A machine whose guest programs U as `mode` (ICFGR field: 0 level, 2 edge), run until it waits masked, then stopped; its irqfd on F. */
  async function programmed(mode: 0 | 2) {
    const m = await step('create the machine', HOST_MS, createMachine(linesConfig(), { console: () => undefined }));
    machines.push(m);
    m.memory.view(REPORT + 72, 8).setBigUint64(0, BigInt(mode), true);
    const irqfd = gicOf(m).irqfd(F);
    await programmedWithAPending(m, false);
    return { m, irqfd, uart: m.device<Pl011>('uart') };
  }

  /** vCPU 0 out to a simulated CPU: the model holds the GIC, the machine's lines and irqfds. */
  async function switchedOut(m: Machine): Promise<{ mux: GicMux; sim: SimulatedCpu }> {
    const kvm = m.cpu(0);
    await step('drain vCPU 0', HOST_MS, () => kvm.drain());
    const sim = new SimulatedCpu();
    await step('switch vCPU 0 out (the GIC, its lines and irqfds to the model)', HOST_MS, () => kvm.switchOut());
    await step('the simulated CPU takes the thread', HOST_MS, () => sim.takeOverFrom(kvm));
    const mux = muxOf(m);
    expect(mux.holder).toBe('model');
    // The VM's irqfds are the model's now: an irqfd added (it would go to the stale kernel GIC)
    // or removed (it would be bound again on the way back) is refused until the GIC is back.
    expect(() => m.vm.addIrqfd(F - 32)).toThrow(LifecycleError);
    expect(() => m.vm.addIrqfd(F - 32)).toThrow(/taken from the kernel by the muxing GIC/);
    return { mux, sim };
  }

  async function switchedBack(m: Machine, sim: SimulatedCpu): Promise<void> {
    await step('the simulated CPU switches out', HOST_MS, () => sim.switchOut());
    await step('vCPU 0 takes the thread back (GIC, lines and irqfds to the kernel)', HOST_MS, () => m.cpu(0).takeOverFrom(sim));
    expect(muxOf(m).holder).toBe('kernel');
  }

  it('level: the UART line raised while switched out and an irqfd triggered meanwhile reach the model, not the kernel; back in the kernel, the line is still high and the guest takes U, then F', async () => {
    const { m, irqfd, uart } = await programmed(0);
    const { mux, sim } = await switchedOut(m);
    mark('the UART raises its line (main thread); the irqfd is triggered');
    expect(uart.pushInput(Uint8Array.of(0x55))).toBe(1);
    irqfd.trigger();
    const model = mux.model; // reading it takes the irqfd's trigger in
    expect(model.readDistributor(0x204) & (bit(U) | bit(F))).toBe(bit(U) | bit(F)); // both pending
    expect(model.readSysReg(0, 'ICC_HPPIR1_EL1')).toBe(BigInt(U)); // U first: priority 0x70
    const handedBack = mux.registers();
    expect(handedBack['LEVEL_INFO 32']! & BigInt(bit(U))).not.toBe(0n); // U's line high
    expect(handedBack['GICD_ISPENDR+0x204']! & BigInt(bit(F))).not.toBe(0n); // F latched
    const kernelMeanwhile = gicOf(m).registers(); // the stale kernel GIC got neither
    expect(kernelMeanwhile['LEVEL_INFO 32']! & BigInt(bit(U))).toBe(0n);
    expect(kernelMeanwhile['GICD_ISPENDR+0x204']! & BigInt(bit(U) | bit(F))).toBe(0n);

    await switchedBack(m, sim);
    expect(gicOf(m).registers()).toEqual(handedBack);
    expect(uart.interruptAsserted()).toBe(true); // the device's line is still high: so is the kernel's
    expect(await goToTheEnd(m, 'switched back')).toEqual(shutdown);
    expect(report(m)).toEqual({ taken: [BigInt(U), BigInt(F)], count: 2, done: 1n });
    expect(uart.interruptAsserted()).toBe(false); // the guest read the byte
    expect(gicOf(m).registers()['LEVEL_INFO 32']! & BigInt(bit(U))).toBe(0n);
  }, SLOW);

  it('edge: the UART’s rising edge while switched out is latched by the model and delivered after switching back; the irqfd, bound in the kernel again, delivers a trigger made after', async () => {
    const { m, irqfd, uart } = await programmed(2);
    const { mux, sim } = await switchedOut(m);
    mark('the UART raises its line (main thread)');
    expect(uart.pushInput(Uint8Array.of(0x55))).toBe(1);
    expect(mux.model.readDistributor(0x204) & (bit(U) | bit(F))).toBe(bit(U));
    expect(mux.registers()['GICD_ISPENDR+0x204']! & BigInt(bit(U))).not.toBe(0n); // the edge latched
    expect(gicOf(m).registers()['GICD_ISPENDR+0x204']! & BigInt(bit(U))).toBe(0n);

    await switchedBack(m, sim);
    mark('trigger the irqfd (the kernel holds the GIC)');
    irqfd.trigger();
    await step('KVM latches F', HOST_MS, async () => {
      while ((gicOf(m).registers()['GICD_ISPENDR+0x204']! & BigInt(bit(F))) === 0n) await sleep(10);
    });
    expect(await goToTheEnd(m, 'switched back')).toEqual(shutdown);
    expect(report(m)).toEqual({ taken: [BigInt(U), BigInt(F)], count: 2, done: 1n });
  }, SLOW);
});
