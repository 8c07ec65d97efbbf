/**
 * What a checkpoint carries besides registers, RAM and devices — each saved, restored into a fresh
 * machine (and, where it matters, back into the running one), and shown to continue with a real
 * guest (guests/ckpt-gaps-tests.S):
 *   - simulated time: every vCPU's ticks (machine.sim-time);
 *   - m5op statistics: open and completed work items, the period's exits, dumps (machine.m5op-stats);
 *   - MSI routes of the GSI routing table (x86.gsi-routing) and irqfd bindings (vm.irqfds): an
 *     interrupt routed before the save is delivered after the restore;
 * and what is refused by name instead: software breakpoints, statistics actions on host timers,
 * a component's state that is not plain data.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CHECKPOINT_COMPONENT, CheckpointError, Irqfd, MANIFEST_FILE, createIsolatedContainer, createMachine, restoreMachine, type Machine, type MachineConfig } from '@kvmts/core';
import { assembleGuest, exitDevice, m5ops, readExitDeviceState, x86GsiRouting, x86Msi, type X86Boot } from '@kvmts/arch-x86';

const guest = assembleGuest('ckpt-gaps-tests');
const sym = (name: string): number => guest.symbols.get(name)!;
const FOUR_GIB = 2 ** 32;
const quiet = { console: () => undefined };
const BREAKPOINT_PLUGIN = path.join(__dirname, 'fixtures', 'sw-breakpoint-plugin.js');

function config(entry: string, extra: Partial<MachineConfig<X86Boot>> = {}): MachineConfig<X86Boot> {
  return {
    arch: 'x86_64',
    memory: '16M',
    archOptions: { irqchip: 'kernel' },
    devices: [...m5ops(), exitDevice({}, 'exit')],
    boot: { kind: 'flat', mode: 'long', cpl: 0, image: guest.bytes, entry: sym(entry), mapBytes: FOUR_GIB },
    ...extra,
  };
}

const ticks = (m: Machine): Promise<bigint> => m.vcpus[0].call<bigint>('simTicks');
const count = (m: Machine, vector: number): number => m.memory.view(sym('counts') + 4 * vector, 4).getUint32(0, true);
const result = (m: Machine): number => readExitDeviceState(m.deviceState.get('exit')!).result;

describeKvm('what checkpoints carry besides registers and RAM (x86)', () => {
  let machines: Machine[] = [];
  let work: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-ckpt-gaps-'));
  });
  afterEach(async () => {
    await Promise.all(machines.map((m) => m.close()));
    machines = [];
    fs.rmSync(work, { recursive: true, force: true });
  });
  const keep = (m: Machine): Machine => (machines.push(m), m);

  it('simulated ticks: a restored vCPU continues from the saved count (fresh machine, and back in the machine that ran on)', async () => {
    const m = keep(await createMachine(config('io_loop'), quiet));
    expect(await m.run({ maxExits: 200 })).toEqual({ reason: 'exit-limit' });
    const saved = await ticks(m);
    expect(saved).toBeGreaterThan(0n);
    const dir = path.join(work, 'ticks');
    const manifest = await m.checkpoint(dir);
    expect(manifest.sections.map((s) => s.name)).toContain('machine.sim-time');

    const r = keep(await restoreMachine(dir, quiet));
    expect(await ticks(r)).toBe(saved);
    await r.run({ maxExits: 50 });
    expect(await ticks(r)).toBeGreaterThan(saved);

    await m.run({ maxExits: 200 });
    expect(await ticks(m)).toBeGreaterThan(saved);
    await m.restore(dir, { verifyMemory: false });
    expect(await ticks(m)).toBe(saved); // back to the saved instant
  });

  it('m5op statistics: a work item open at the save ends after the restore, dumps and the period\'s exits carry on', async () => {
    const m = keep(await createMachine(config('stats_work'), quiet));
    m.m5ops.handle('checkpoint', () => 'end-run');
    const exit = await m.run();
    expect(exit).toMatchObject({ reason: 'm5op-end', call: { op: 'checkpoint' } });
    expect(m.m5ops.workItems.map((w) => w.workId)).toEqual([1n]);
    expect(m.m5ops.statsDumps).toHaveLength(1);
    const dir = path.join(work, 'stats');
    const saveStarted = process.hrtime.bigint();
    await m.checkpoint(dir);
    // The period at the save, as a dump would have shown it (taken after the save: not in the checkpoint).
    const atSave = m.m5ops.stats.dump('host', -1);
    // The period's age the checkpoint holds is at least its age when the save began.
    const sinceSaveStarted = process.hrtime.bigint() - saveStarted;
    expect(atSave.openWork).toBe(1);
    expect(atSave.exits[0].IO).toBeGreaterThanOrEqual(5); // workbegin ×2, workend, dumpstats, checkpoint

    const r = keep(await restoreMachine(dir, quiet));
    expect(r.m5ops.workItems).toEqual(m.m5ops.workItems);
    expect(r.m5ops.statsDumps).toEqual(m.m5ops.statsDumps.slice(0, 1));
    expect(await r.run()).toEqual({ reason: 'poweroff', status: 0 });
    expect(result(r)).toBe(0x57);
    // workend(2) matched the workbegin(2) made before the save.
    expect(r.m5ops.workItems.map((w) => w.workId)).toEqual([1n, 2n]);
    const item = r.m5ops.workItems[1];
    expect(item).toMatchObject({ workId: 2n, threadId: 0n, beginVcpu: 0, endVcpu: 0 });
    expect(item.durationNs).toBeGreaterThan(0n);
    const dump = r.m5ops.statsDumps[1];
    expect(dump).toMatchObject({ index: 1, by: 'dumpstats', vcpuId: 0, openWork: 0, unmatchedWorkEnds: 0 });
    expect(dump.work.map((w) => w.workId)).toEqual([1n, 2n]); // both ended in this period (one before the save)
    // The period's exits before the save are carried; after it the guest made 2 more (workend, dumpstats).
    expect(dump.exits[0].IO).toBeGreaterThanOrEqual(atSave.exits[0].IO + 2);
    // The period's age carried, not restarted: at least its age when the save began (a slow save
    // under an emulated CPU took over a second, more than a fixed allowance covered).
    expect(dump.periodNs).toBeGreaterThanOrEqual(atSave.periodNs - sinceSaveStarted);
  });

  it('MSI routes and irqfds: a route added and an irqfd bound before the save deliver their vectors after the restore (fresh machine, and back in the machine after it dropped both)', async () => {
    const m = keep(await createMachine(config('msi_wait'), quiet));
    m.m5ops.handle('checkpoint', () => 'end-run');
    expect(await m.run()).toMatchObject({ reason: 'm5op-end' });
    const routing = x86GsiRouting(m.vm);
    const gsiA = routing.addMsiRoute(x86Msi({ apicId: 0, vector: 0x41 }));
    const gsiB = routing.addMsiRoute(x86Msi({ apicId: 0, vector: 0x42 }));
    routing.commit();
    const bound = Irqfd.assign(m.vm, gsiB);
    const dir = path.join(work, 'msi');
    await m.checkpoint(dir);

    const r = keep(await restoreMachine(dir, quiet));
    // The table came back whole; the irqfd came back as a binding on its GSI (a new eventfd).
    expect(x86GsiRouting(r.vm).routes).toEqual(routing.routes);
    expect(r.vm.irqfds().map((b) => b.gsi)).toEqual([gsiB]);
    Irqfd.assign(r.vm, gsiA).trigger(); // a new irqfd: delivers only through the restored route
    Irqfd.onGsi(r.vm, gsiB)!.trigger(); // the re-bound one
    expect(await r.run()).toEqual({ reason: 'poweroff', status: 0 });
    expect(result(r)).toBe(0x4142);
    expect([count(r, 0x41), count(r, 0x42)]).toEqual([1, 1]);

    // The machine drops both after the save; restoring into it puts both back.
    routing.removeRoutes(gsiA);
    routing.commit();
    bound.release();
    expect(m.vm.irqfds()).toEqual([]);
    await m.restore(dir, { verifyMemory: false });
    expect(x86GsiRouting(m.vm).routes.some((x) => x.gsi === gsiA && x.kind === 'msi')).toBe(true);
    Irqfd.assign(m.vm, gsiA).trigger();
    Irqfd.onGsi(m.vm, gsiB)!.trigger();
    expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
    expect([count(m, 0x41), count(m, 0x42)]).toEqual([1, 1]);
  });

  it('refused by name, leaving no checkpoint: a software breakpoint set in a vCPU thread, a statistics action waiting on a host timer', async () => {
    const bp = keep(await createMachine(config('io_loop', { plugins: [BREAKPOINT_PLUGIN] }), quiet));
    await bp.run({ maxExits: 20 });
    const refused = path.join(work, 'refused');
    const e1 = await bp.checkpoint(refused).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(CheckpointError);
    expect(e1).toMatchObject({ code: 'not-saveable' });
    expect((e1 as Error).message).toMatch(new RegExp(`^vCPU 0 software breakpoints: cannot be saved: the int3 bytes at 0x${sym('io_loop').toString(16)} are in guest memory`));
    expect(fs.existsSync(refused)).toBe(false);

    const st = keep(await createMachine(config('stats_work'), quiet));
    st.m5ops.handle('checkpoint', () => 'end-run');
    await st.run();
    // What a guest's dumpstats with a delay schedules (its delay outlives the test).
    await st.m5ops.dispatch(st.vcpus[0], { reason: 'm5op', op: 'dumpstats', func: 0x41, args: [3_600_000_000_000n, 0n], hostTimeNs: process.hrtime.bigint() } as never);
    const e2 = await st.checkpoint(refused).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(CheckpointError);
    expect(e2).toMatchObject({ code: 'not-saveable' });
    expect((e2 as Error).message).toMatch(/^m5op statistics: cannot be saved: 1 delayed or periodic statistics action/);
    expect(fs.existsSync(refused)).toBe(false);
  });

  it("refused by name: a component's state that is not plain data, found while the memory image is being written; the previous checkpoint stays", async () => {
    const container = createIsolatedContainer();
    let state: unknown = { ok: 1 };
    container.register(CHECKPOINT_COMPONENT, { useValue: { name: 'test.handle', version: 1, save: () => state, restore: () => undefined } });
    const m = keep(await createMachine({ ...config('io_loop'), memory: '64M' }, { ...quiet, container }));
    await m.run({ maxExits: 20 });
    // Guest RAM with data in it, so that the image has writes in flight when the section fails.
    m.memory.write(0x1000000, new Uint8Array(32 * 1024 * 1024).fill(0x5a));
    const dir = path.join(work, 'ckpt');
    await m.checkpoint(dir);
    const before = fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8');
    state = { socket: new Map() };
    const e = await m.checkpoint(dir).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e).toMatchObject({ code: 'not-saveable' });
    expect((e as Error).message).toMatch(/^section 'test\.handle'\.socket: a Map is not plain data/);
    expect(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')).toBe(before);
    expect(fs.readdirSync(work)).toEqual(['ckpt']);
  });
});
