/**
 * Nested arm64 tier: dev-gic's in-kernel vGICv3 on real KVM, across checkpoints (issue #10).
 * A guest (scripts/nested/guest-asm/arm64/vgic-state.s) programs the GIC — groups, priorities,
 * edge/level, routes to both vCPUs, enables, the CPU interface's priority mask, binary point
 * and group enable — and waits with every priority masked. The host pends three SPIs (an edge
 * pulse, two level lines held high), checkpoints, and restores into a fresh VM, in this process
 * and in a fresh one: every register read back through the device attributes equals the one
 * read before the save, and after the go the guest takes the pending interrupts (level 41
 * first by priority, then edge 40), which it could not have without the GIC state.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CheckpointReader, ConfigError, KvmSystemEvent, createMachine, decodeSection, restoreMachine, type Machine, type MachineConfig } from '@kvmts/core';
import type { Arm64Boot } from '@kvmts/arch-arm64';
import { DEV_GIC_MODULE, DEV_GIC_V2_MODULE, DEV_GIC_V3_ITS_MODULE, VGIC_V3_SECTION, kernelGicOf, type KernelGic } from '@kvmts/dev-gic';
import { guestProgram } from './support/guest-program';

const REPORT = 0x4020_0000;
const CHILD = path.join(__dirname, 'fixtures', 'vgic-restore-child.js');
const SLOW = 600_000;
const shutdown = { reason: 'system-event', event: KvmSystemEvent.SHUTDOWN, flags: 0n };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


function config(plugin: string): MachineConfig<Arm64Boot> {
  return { arch: 'arm64', memory: 16 << 20, cpus: 2, plugins: [plugin], archOptions: { gic: 'kernel', timer: 'none' }, boot: { kind: 'kernel', image: guestProgram('vgic-state') } };
}

function gicOf(m: Machine): KernelGic {
  const gic = kernelGicOf(m.vm);
  if (!gic) throw new Error('no dev-gic vGIC in the machine');
  return gic;
}

interface Report {
  programmed: bigint;
  taken: bigint[];
  done: bigint;
}

function reportOf(bytes: Uint8Array): Report {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = Number(v.getBigUint64(16, true));
  return { programmed: v.getBigUint64(0, true), taken: Array.from({ length: Math.min(count, 5) }, (_, i) => v.getBigUint64(24 + 8 * i, true)), done: v.getBigUint64(64, true) };
}
const reportOfMachine = (m: Machine) => reportOf(m.memory.bytes(REPORT, 72).slice());

/** Run until the guest has programmed the GIC and waits masked; stop; pend the SPIs; read every register; checkpoint. */
async function programPendAndSave(plugin: string, dir: string) {
  const m = await createMachine(config(plugin), { console: () => undefined });
  try {
    const running = m.run();
    const deadline = Date.now() + 120_000;
    while (m.memory.view(REPORT, 8).getBigUint64(0, true) !== 1n) {
      if (Date.now() > deadline) throw new Error('the guest did not program the GIC');
      await sleep(10);
    }
    await sleep(100); // into the wait loop
    await m.stop();
    expect(await running).toEqual({ reason: 'stopped' });
    const gic = gicOf(m);
    gic.setSpi(40, true); // an edge: the pulse latches it pending
    gic.setSpi(40, false);
    gic.setSpi(41, true); // level lines, held high across the checkpoint
    gic.setSpi(42, true);
    const registers = gic.registers();
    const its = gic.itsRegisters();
    await m.checkpoint(dir);
    return { registers, its };
  } finally {
    await m.close();
  }
}

describe('nested arm64: the in-kernel vGICv3 of @kvmts/dev-gic', () => {
  let work: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-vgic-'));
  });
  afterEach(() => {
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('a programmed GIC with masked pending SPIs is checkpointed; restored in a fresh VM and a fresh process every register reads back equal and the guest takes the pending interrupts', async () => {
    const dir = path.join(work, 'ckpt');
    const saved = await programPendAndSave(DEV_GIC_MODULE, dir);
    const r = saved.registers;
    // What the guest programmed and the host pended, as KVM reports it (so equality below is not of defaults).
    expect(r['GICD_IPRIORITYR+0x428']).toBe(0x20a0_4080n);
    expect(r['GICD_ICFGR+0xc08']).toBe(0x2_0000n);
    expect(r['GICD_IROUTER+0x6150']).toBe(1n); // INTID 42 → vCPU 1
    expect(r['GICD_ISENABLER+0x104']! & 0x700n).toBe(0x700n);
    expect(r['GICD_ISPENDR+0x204']! & 0x100n).toBe(0x100n); // 40's latch
    expect(r['LEVEL_INFO 32']! & 0x600n).toBe(0x600n); // 41 and 42's lines
    expect(r['cpu0 ICC_PMR_EL1']).toBe(0x30n);
    expect(r['cpu0 ICC_BPR1_EL1']).toBe(3n);
    expect(r['cpu0 ICC_IGRPEN1_EL1']).toBe(1n);
    expect(Object.keys(r).filter((k) => k.startsWith('cpu1 ')).length).toBeGreaterThan(10);
    const manifest = CheckpointReader.open(dir).manifest;
    expect(manifest.sections.map((s) => s.name).sort()).toEqual(['arm64.virtual-counter', VGIC_V3_SECTION, 'machine.m5op-stats', 'machine.sim-time', 'vcpu.0', 'vcpu.1', 'vm.irqfds']);

    // A fresh VM in this process.
    const m = await restoreMachine(dir, { console: () => undefined });
    try {
      expect(gicOf(m).registers()).toEqual(saved.registers);
      m.memory.view(REPORT + 8, 8).setBigUint64(0, 1n, true);
      expect(await m.run()).toEqual(shutdown);
      expect(reportOfMachine(m)).toEqual({ programmed: 1n, taken: [41n, 40n], done: 1n });
    } finally {
      await m.close();
    }

    // A fresh process.
    const out = path.join(work, 'child.json');
    const child = spawnSync(process.execPath, [CHILD, dir, out, String(REPORT)], { encoding: 'utf8', timeout: 300_000 });
    expect(child.stderr.split('\n').filter((line) => line !== '' && !line.startsWith('Warning: disabling flag --expose_wasm'))).toEqual([]);
    expect(child.status).toBe(0);
    const report = decodeSection(fs.readFileSync(out), 'child output') as { atRestore: { registers: Record<string, bigint> }; exit: unknown; report: Uint8Array };
    expect(report.atRestore.registers).toEqual(saved.registers);
    expect(report.exit).toEqual(shutdown);
    expect(reportOf(report.report)).toEqual({ programmed: 1n, taken: [41n, 40n], done: 1n });
  }, SLOW);

  it('with an ITS: pending tables and ITS tables saved before memory, ITS registers restored equal, the interrupts still delivered', async () => {
    const dir = path.join(work, 'ckpt');
    const saved = await programPendAndSave(DEV_GIC_V3_ITS_MODULE, dir);
    expect(Object.keys(saved.its)).toContain('GITS_BASER0');
    const m = await restoreMachine(dir, { console: () => undefined });
    try {
      const gic = gicOf(m);
      expect(gic.its).toBeDefined();
      expect(gic.registers()).toEqual(saved.registers);
      expect(gic.itsRegisters()).toEqual(saved.its);
      m.memory.view(REPORT + 8, 8).setBigUint64(0, 1n, true);
      expect(await m.run()).toEqual(shutdown);
      expect(reportOfMachine(m).taken).toEqual([41n, 40n]);
    } finally {
      await m.close();
    }
  }, SLOW);

  it('injects through an irqfd (GSI = INTID − 32) into a running guest', async () => {
    const m = await createMachine(config(DEV_GIC_MODULE), { console: () => undefined });
    try {
      const running = m.run();
      const deadline = Date.now() + 120_000;
      while (m.memory.view(REPORT, 8).getBigUint64(0, true) !== 1n) {
        if (Date.now() > deadline) throw new Error('the guest did not program the GIC');
        await sleep(10);
      }
      const gic = gicOf(m);
      gic.irqfd(40).trigger(); // edge: one trigger pends it
      gic.setSpi(41, true);
      m.memory.view(REPORT + 8, 8).setBigUint64(0, 1n, true);
      expect(await running).toEqual(shutdown);
      expect(reportOfMachine(m).taken).toEqual([41n, 40n]);
    } finally {
      await m.close();
    }
  }, SLOW);

  it("refuses a vGICv2 on this host (a GICv3 without GICv2 compatibility) with a ConfigError that says so", async () => {
    const error = await createMachine(config(DEV_GIC_V2_MODULE), { console: () => undefined }).then(
      async (m) => {
        await m.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain('GICv2 compatibility');
  }, SLOW);
});
