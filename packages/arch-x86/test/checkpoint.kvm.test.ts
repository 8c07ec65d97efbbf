/**
 * Checkpoints of whole x86 machines on real KVM (issue #8 items 1 and 2): a guest computing a
 * known result is stopped mid-way, checkpointed, restored in a fresh Node process and finishes
 * with the result of an uninterrupted run; its memory and registers at restore equal those at
 * save; the UART's state survives. Damaged checkpoints, another format version, another arch or
 * an incompatible CPU are refused with a precise CheckpointError; a SIGKILL during a rewrite
 * leaves the previous checkpoint loadable.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import {
  verifyMemoryImage,
  CHECKPOINT_COMPONENT,
  CheckpointError,
  CheckpointReader,
  MANIFEST_FILE,
  createIsolatedContainer,
  createMachine,
  decodeSection,
  parseManifest,
  restoreMachine,
  saveSharedState,
  serializeManifest,
  type CheckpointComponent,
  type CheckpointManifest,
  type Machine,
  type MachineConfig,
} from '@kvmts/core';
import { assembleGuest, exitDevice, readExitDeviceState, uart8250, uart8250Plugin, type X86Boot, type X86Regs, type X86Sregs, type X86ThreadContextData } from '@kvmts/arch-x86';

const RAM = 16 * 1024 * 1024;
const BUFFER = 0x100000;
const LENGTH = 0x8000;
const ROUNDS = 16;
const SEED = 0x5a17c0de1234n;
const CHILD = path.join(__dirname, 'fixtures', 'checkpoint-restore-child.js');
const MSR_TSC = 0x10;
const ROUND_COUNTER = path.join(__dirname, 'fixtures', 'round-counter-device-plugin.js');
/** Tests that create several machines and child processes: measured up to 106 s in a busy nested tier. */
const SLOW = 360_000;

function config(): MachineConfig<X86Boot> {
  const guest = assembleGuest('checkpoint-tests');
  return {
    arch: 'x86_64',
    memory: RAM,
    archOptions: { irqchip: 'kernel' },
    devices: [uart8250({ irq: 4 }, 'com1'), exitDevice({}, 'exit')],
    boot: {
      kind: 'flat',
      mode: 'long',
      cpl: 0,
      image: guest.bytes,
      entry: guest.symbols.get('checksum_rounds')!,
      registers: [{ rdi: BigInt(BUFFER), rsi: BigInt(LENGTH), rcx: BigInt(ROUNDS), rdx: SEED }],
    },
  };
}

const ramSha256 = (m: Machine): string => createHash('sha256').update(m.memory.bytes(0, RAM)).digest('hex');
const resultOf = (m: Machine): bigint => m.memory.view(BUFFER + LENGTH, 8).getBigUint64(0, true);

/** A context without the TSC: the guest's clock moves on between a save and a later read. */
function withoutTsc(tc: X86ThreadContextData): X86ThreadContextData {
  return { ...tc, msrs: tc.msrs.filter((m) => m.index !== MSR_TSC) };
}

/** Run the guest to a checkpoint half-way through its rounds; return what the machine held then. */
async function checkpointMidway(dir: string) {
  const m = await createMachine(config(), { console: () => undefined });
  try {
    // One exit for the UART write, then one per round.
    expect(await m.run({ maxExits: 1 + ROUNDS / 2 })).toEqual({ reason: 'exit-limit' });
    const threadContext = await m.vcpus[0].call<X86ThreadContextData>('threadContext');
    // Really mid-way: stopped at the `out` of round ROUNDS / 2, before its `dec r10`.
    expect(threadContext.regs.r10).toBe(BigInt(ROUNDS / 2 + 1));
    const held = { threadContext, ram: ramSha256(m), uart: saveSharedState(uartLayoutOf(m), m.deviceState.get('com1')!) };
    await m.checkpoint(dir);
    return held;
  } finally {
    await m.close();
  }
}

/** The UART plugin's own layout: what a checkpoint saves. */
function uartLayoutOf(m: Machine) {
  return uart8250Plugin.sharedLayout!(m.config.devices![0].options as never);
}

interface ChildReport {
  atRestore: { threadContext: X86ThreadContextData; kernel: { regs: X86Regs; sregs: X86Sregs; xmm: Uint8Array }; ramSha256: string; uart: Uint8Array };
  after: Record<string, unknown>;
}

function runChild(dir: string, out: string): ChildReport {
  const r = spawnSync(process.execPath, [CHILD, dir, out, String(RAM), String(BUFFER + LENGTH)], { encoding: 'utf8', timeout: 120_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return decodeSection(fs.readFileSync(out), 'child output') as never;
}

async function restoreError(dir: string): Promise<CheckpointError> {
  try {
    const m = await restoreMachine(dir, { console: () => undefined });
    await m.close();
  } catch (e) {
    if (e instanceof CheckpointError) return e;
    throw e;
  }
  throw new Error('expected a CheckpointError');
}

function rewriteManifest(dir: string, change: (m: Record<string, unknown>) => void): void {
  const file = path.join(dir, MANIFEST_FILE);
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  delete raw.checksum;
  change(raw);
  fs.writeFileSync(file, serializeManifest(raw as unknown as CheckpointManifest));
}

function flipByte(file: string, at: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    b[0] ^= 0x01;
    fs.writeSync(fd, b, 0, 1, at);
  } finally {
    fs.closeSync(fd);
  }
}

describeKvm('machine checkpoints (x86)', () => {
  let work: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-ckpt-'));
  });
  afterEach(() => {
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('a guest checkpointed mid-way and restored in a fresh process finishes with the uninterrupted result; RAM, registers and the UART at restore equal those at save', async () => {
    const reference = await createMachine(config(), { console: () => undefined });
    let expected: { result: bigint; ram: string; exitResult: number };
    try {
      expect(await reference.run()).toEqual({ reason: 'poweroff', status: 0 });
      expected = { result: resultOf(reference), ram: ramSha256(reference), exitResult: readExitDeviceState(reference.deviceState.get('exit')!).result };
    } finally {
      await reference.close();
    }
    expect(expected.result).not.toBe(0n);
    expect(expected.exitResult).toBe(Number(expected.result & 0xffffffffn));

    const dir = path.join(work, 'ckpt');
    const saved = await checkpointMidway(dir);
    const manifest = CheckpointReader.open(dir).manifest;
    expect(manifest.sections.map((s) => s.name).sort()).toEqual(['device.com1', 'device.exit', 'machine.m5op-stats', 'machine.sim-time', 'vcpu.0', 'vm.ioeventfds', 'vm.irqfds', 'x86.clock', 'x86.gsi-routing', 'x86.irqchip', 'x86.pit']);
    // Sparse: a 16 MiB machine stores only the pages the guest and its boot touched.
    expect(manifest.memory.dataPages).toBeLessThan(64);
    expect(fs.statSync(path.join(dir, 'memory.img')).blocks * 512).toBeLessThan(1024 * 1024);

    const child = runChild(dir, path.join(work, 'out.json'));
    expect(child.atRestore.ramSha256).toBe(saved.ram);
    expect(withoutTsc(child.atRestore.threadContext)).toEqual(withoutTsc(saved.threadContext));
    // What KVM itself holds at restore (read with the ioctls, not through the restored context).
    const { regs, sregs, xmm } = child.atRestore.kernel;
    expect(regs).toEqual(saved.threadContext.regs);
    const { flags: _flags, pdptrs: _pdptrs, ...common } = saved.threadContext.sregs;
    const { interruptBitmap: _bitmap, ...kernelCommon } = sregs;
    expect(kernelCommon).toEqual(common);
    // The SSE accumulators were live across the checkpoint, and KVM holds them: XMM0..15 of the XSAVE legacy region.
    expect(Buffer.from(saved.threadContext.xsave.subarray(160, 192)).equals(Buffer.alloc(32))).toBe(false);
    expect(Buffer.from(xmm).equals(Buffer.from(saved.threadContext.xsave.subarray(160, 416)))).toBe(true);
    expect(Buffer.from(child.atRestore.uart).equals(Buffer.from(saved.uart.bytes))).toBe(true);
    expect(child.after).toEqual({
      exit: { reason: 'poweroff', status: 0 },
      result: expected.result,
      exitDevice: { exited: true, status: 0, hasResult: true, result: expected.exitResult },
      ramSha256: expected.ram,
    });
  }, SLOW);

  it('refuses damaged checkpoints, naming the section or file; another format version, arch or CPU with its own code', async () => {
    const dir = path.join(work, 'ckpt');
    await checkpointMidway(dir);
    const copy = (name: string): string => {
      const to = path.join(work, name);
      fs.cpSync(dir, to, { recursive: true });
      return to;
    };
    const manifest = CheckpointReader.open(dir).manifest;

    const section = copy('section');
    const vcpuSection = manifest.sections.find((s) => s.name === 'vcpu.0')!;
    flipByte(path.join(section, 'sections.jsonl'), vcpuSection.offset + 40);
    const e1 = await restoreError(section);
    expect(e1.code).toBe('corrupt');
    expect(e1.message).toContain("section 'vcpu.0'");

    const image = copy('image');
    // A byte of the guest's buffer (a data page, not a hole).
    flipByte(path.join(image, 'memory.img'), BUFFER + 8);
    const e2 = await restoreError(image);
    expect(e2.code).toBe('corrupt');
    expect(e2.message).toContain('memory.img');
    expect(e2.message).toContain(`guest-physical 0x${BUFFER.toString(16)}): checksum mismatch`);

    const version = copy('version');
    rewriteManifest(version, (m) => (m.formatVersion = 1)); // the format before page checksums
    expect(await restoreError(version)).toMatchObject({ code: 'format-version' });

    const arch = copy('arch');
    // What an arm64 machine's checkpoint says (its manifest and its config).
    rewriteManifest(arch, (m) => {
      m.arch = 'arm64';
      (m.config as { arch: string }).arch = 'arm64';
    });
    const e4 = await restoreError(arch);
    // The arm64 plugin here has no checkpoint support, or is for arm64 hosts: either way an arch error.
    expect(e4.code).toBe('arch');
    expect(e4.message).toContain('was made on arm64');

    const cpu = copy('cpu');
    rewriteManifest(cpu, (m) => {
      const fp = m.cpu as { identity: Record<string, string>; features: Record<string, string> };
      fp.identity.model = '0xfff';
      fp.features['cpuid leaf 0x7.0 ebx'] = '0xffffffff';
    });
    const e5 = await restoreError(cpu);
    expect(e5.code).toBe('cpu-mismatch');
    expect(e5.message).toMatch(/model was 0xfff, this host has 0x[0-9a-f]+/);
    expect(e5.message).toContain('cpuid leaf 0x7.0 ebx: bit');

    // The untouched original still restores.
    const m = await restoreMachine(dir, { console: () => undefined });
    await m.close();
  }, SLOW);

  it('a machine with a device that cannot be saved fails the checkpoint naming it, and leaves the previous checkpoint intact', async () => {
    const dir = path.join(work, 'ckpt');
    await checkpointMidway(dir);
    const before = fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8');
    const m = await createMachine(config(), { console: () => undefined });
    try {
      await m.run({ maxExits: 2 });
      const uart = m.device('com1') as { unsaveableReason?: () => string };
      uart.unsaveableReason = () => 'it is attached to a host socket';
      const e = await m.checkpoint(dir).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(CheckpointError);
      expect(e).toMatchObject({ code: 'not-saveable' });
      expect((e as Error).message).toContain("device 'com1'");
    } finally {
      await m.close();
    }
    expect(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')).toBe(before);
    expect(fs.readdirSync(work)).toEqual(['ckpt']);
  });

  it('a checkpoint rewrite killed by SIGKILL at any point leaves a loadable checkpoint', async () => {
    const dir = path.join(work, 'ckpt');
    await checkpointMidway(dir);
    const writer = path.join(work, 'writer.js');
    // Rewrites the checkpoint in a loop (each a full save: sections, sparse image, renames).
    fs.writeFileSync(
      writer,
      `module.paths.unshift(${JSON.stringify(path.join(__dirname, '..', '..', '..', 'node_modules'))});
const { restoreMachine } = require('@kvmts/core');
(async () => {
  const m = await restoreMachine(${JSON.stringify(dir)}, { console: () => {} });
  process.stdout.write('ready\\n');
  for (;;) await m.checkpoint(${JSON.stringify(dir)});
})();`,
    );
    for (const delayMs of [5, 60, 150]) {
      const child = spawn(process.execPath, [writer], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      await new Promise((r) => setTimeout(r, delayMs));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const reader = CheckpointReader.open(dir);
      for (const s of reader.manifest.sections) expect(() => reader.section(s.name)).not.toThrow();
      // Every stored page matches its CRC-32, and the file holds nothing where the page map says zero.
      const image = new Uint8Array(fs.readFileSync(reader.memoryImagePath));
      const fd = fs.openSync(reader.memoryImagePath, 'r');
      try {
        verifyMemoryImage(reader.memoryImagePath, fd, reader.pageMap(), reader.pageChecksums(), [{ name: 'image', guestPhysAddr: 0, fileOffset: 0, size: image.byteLength, views: [image] }]);
      } finally {
        fs.closeSync(fd);
      }
      expect(parseManifest(fs.readFileSync(path.join(reader.dir, MANIFEST_FILE), 'utf8'), dir).vcpus).toBe(1);
    }
    // And it restores and finishes.
    const m = await restoreMachine(dir, { console: () => undefined });
    try {
      expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
    } finally {
      await m.close();
    }
  }, SLOW);

  it('saves and restores per-thread device state and components anyone registers; a section nothing restores is refused', async () => {
    const base = config();
    const withCounter: MachineConfig<X86Boot> = { ...base, devices: [...base.devices!, { plugin: ROUND_COUNTER, type: 'round-counter', name: 'rounds', options: { port: 0x10 } }] };
    const marker = (restored: unknown[]): CheckpointComponent => ({ name: 'test.marker', version: 3, save: () => ({ value: 42n, bytes: Uint8Array.of(1, 2) }), restore: (_ctx, state) => void restored.push(state) });
    const saving = createIsolatedContainer();
    saving.register(CHECKPOINT_COMPONENT, { useValue: marker([]) });
    const first = path.join(work, 'first');
    const m = await createMachine(withCounter, { container: saving, console: () => undefined });
    try {
      expect(await m.run({ maxExits: 1 + ROUNDS / 2 })).toEqual({ reason: 'exit-limit' });
      await m.checkpoint(first);
    } finally {
      await m.close();
    }
    const reader = CheckpointReader.open(first);
    // Each thread's instance saved its own count: vCPU 0's saw half the rounds, the main thread's none.
    expect(reader.section('device.rounds').data).toEqual({ shared: null, local: { main: { writes: 0 }, vcpu0: { writes: ROUNDS / 2 } } });
    expect(reader.section('test.marker')).toEqual({ version: 3, data: { value: 42n, bytes: Uint8Array.of(1, 2) } });

    const restored: unknown[] = [];
    const restoring = createIsolatedContainer();
    restoring.register(CHECKPOINT_COMPONENT, { useValue: marker(restored) });
    const second = path.join(work, 'second');
    const r = await restoreMachine(first, { container: restoring, console: () => undefined });
    try {
      expect(restored).toEqual([{ value: 42n, bytes: Uint8Array.of(1, 2) }]);
      expect(await r.run()).toEqual({ reason: 'poweroff', status: 0 });
      await r.checkpoint(second);
    } finally {
      await r.close();
    }
    // The restored instance continued from the saved count.
    expect(CheckpointReader.open(second).section('device.rounds').data).toMatchObject({ local: { vcpu0: { writes: ROUNDS } } });

    const e = await restoreError(first);
    expect(e.code).toBe('incompatible');
    expect(e.message).toContain("section 'test.marker'");
  });
});
