/**
 * Nested arm64 tier: checkpoints of whole arm64 machines on real KVM (issue #9's checkpoint
 * item). A two-vCPU guest (vCPU 1 never powered on) computing a known result over a buffer, with
 * live X and V accumulators, is stopped half-way (in a wait for a host flag), checkpointed, restored in a fresh Node process
 * and finishes with the result of an uninterrupted run; registers, power states and memory at
 * restore equal those at save; the guest's virtual counter neither goes backwards nor jumps by
 * the time the checkpoint sat on disk. A machine with the in-kernel vGICv3 is refused by name,
 * and a host whose ID registers differ by one field is refused listing that field.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { CheckpointError, CheckpointReader, KvmMpState, KvmSystemEvent, MANIFEST_FILE, createMachine, decodeSection, restoreMachine, serializeManifest, type CheckpointManifest, type Machine, type MachineConfig } from '@kvmts/core';
import { ARM64_LAYOUT, type Arm64Boot, type ArmV8Registers, type ArmV8ThreadContextData } from '@kvmts/arch-arm64';
import { guestProgram } from './support/rig';

const RAM = 16 * 1024 * 1024;
// The guest's layout (scripts/nested/guest-asm/arm64/checkpoint.s).
const BUFFER = 0x4010_0000;
const LENGTH = 0x8000;
const RESULTS = BUFFER + LENGTH;
const ROUNDS = 16;
const CHILD = path.join(__dirname, 'fixtures', 'checkpoint-restore-child.js');
/** What the checkpoint sits on disk, at least: the guest must not see it. */
const ON_DISK_MS = 3000;
const SLOW = 600_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const GO = RESULTS + 24;

function config(archOptions: MachineConfig['archOptions'] = { gic: 'none', timer: 'none' }, cpus = 2): MachineConfig<Arm64Boot> {
  return { arch: 'arm64', memory: RAM, cpus, archOptions, boot: { kind: 'kernel', image: guestProgram('checkpoint') } };
}

/** Let the guest past its half-way wait. */
const go = (m: Machine): void => m.memory.view(GO, 8).setBigUint64(0, 1n, true);

const MASK = (1n << 64n) - 1n;
const rol = (v: bigint, n: bigint) => ((v << n) | (v >> (64n - n))) & MASK;

/** The guest's computation, in TypeScript: the known result (x10, and v0's two lanes folded). */
function expectedResult(): { x: bigint; v: bigint } {
  const words: bigint[] = [];
  for (let i = 0n; i < BigInt(LENGTH / 8); i++) words.push(((i * 0x9e3779b97f4a7c15n) & MASK) ^ ((i << 7n) & MASK));
  let x = 0xc0de1234n;
  const v = [0n, 0n];
  for (let r = BigInt(ROUNDS); r > 0n; r--) {
    for (let j = 0; j < words.length; j += 2) {
      v[0] = (rol(v[0], 1n) + words[j]) & MASK;
      v[1] = (rol(v[1], 1n) + words[j + 1]) & MASK;
      const x4 = words[j] ^ r;
      x = ((x4 + rol(x, 51n)) & MASK) ^ words[j + 1];
      words[j] = (x4 + x) & MASK;
    }
  }
  return { x, v: v[0] ^ v[1] };
}

interface Results {
  x: bigint;
  v: bigint;
  frequency: bigint;
  /** CNTVCT_EL0 at the end of the round with `roundsLeft` rounds left. */
  counterAt(roundsLeft: number): bigint;
  /** The buffer and the three result words: everything the computation wrote (the counters differ between runs). */
  sha256: string;
}

function resultsOf(bytes: Uint8Array, buffer: Uint8Array): Results {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    x: view.getBigUint64(0, true),
    v: view.getBigUint64(8, true),
    frequency: view.getBigUint64(16, true),
    counterAt: (roundsLeft) => view.getBigUint64(32 + 8 * roundsLeft, true),
    sha256: createHash('sha256').update(buffer).update(bytes.subarray(0, 24)).digest('hex'),
  };
}

const resultsOfMachine = (m: Machine): Results => resultsOf(m.memory.bytes(RESULTS, 32 + 8 * (ROUNDS + 1)).slice(), m.memory.bytes(BUFFER, LENGTH).slice());
const ramSha256 = (m: Machine): string => createHash('sha256').update(m.memory.bytes(ARM64_LAYOUT.ramBase, RAM)).digest('hex');
const shutdown = { reason: 'system-event', event: KvmSystemEvent.SHUTDOWN, flags: 0n };

interface ChildReport {
  atRestore: {
    kernel: { core: ArmV8Registers['core']; fp: ArmV8Registers['fp']; mpState: number }[];
    threadContexts: ArmV8ThreadContextData[];
    ramSha256: string;
  };
  after: { exit: unknown; results: Uint8Array; buffer: Uint8Array };
}

function runChild(dir: string, out: string): ChildReport {
  const r = spawnSync(process.execPath, [CHILD, dir, out, String(RAM), String(RESULTS), String(BUFFER), String(LENGTH)], { encoding: 'utf8', timeout: 300_000 });
  // The nested arm64 tier's Node prints one V8 notice about its flags on every start; anything else is a failure.
  expect(r.stderr.split('\n').filter((line) => line !== '' && !line.startsWith('Warning: disabling flag --expose_wasm'))).toEqual([]);
  expect(r.status).toBe(0);
  return decodeSection(fs.readFileSync(out), 'child output') as never;
}

/**
 * Run to the guest's half-way wait (after round ROUNDS / 2), stop the machine there — vCPU 1,
 * never powered on, has no exit to stop at, so an exit limit would not end the run — and
 * checkpoint it; return what the machine held.
 */
async function checkpointMidway(dir: string) {
  const m = await createMachine(config(), { console: () => undefined });
  try {
    const running = m.run();
    const deadline = Date.now() + 120_000;
    // The guest records the counter of round ROUNDS / 2 just before it starts waiting.
    while (m.memory.view(RESULTS + 32 + 8 * (ROUNDS / 2 + 1), 8).getBigUint64(0, true) === 0n) {
      if (Date.now() > deadline) throw new Error('the guest did not reach its half-way wait');
      await sleep(10);
    }
    await sleep(100); // into the wait loop
    await m.stop();
    expect(await running).toEqual({ reason: 'stopped' });
    const threadContexts = await Promise.all(m.vcpus.map((v) => v.call<ArmV8ThreadContextData>('threadContext')));
    const held = { threadContexts, ram: ramSha256(m), counter: resultsOfMachine(m).counterAt(ROUNDS / 2 + 1) };
    await m.checkpoint(dir);
    return held;
  } finally {
    await m.close();
  }
}

function rewriteManifest(dir: string, change: (m: CheckpointManifest & Record<string, unknown>) => void): void {
  const file = path.join(dir, MANIFEST_FILE);
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  delete raw.checksum;
  change(raw);
  fs.writeFileSync(file, serializeManifest(raw));
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

describe('nested arm64: machine checkpoints', () => {
  let work: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-arm-ckpt-'));
  });
  afterEach(() => {
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('a guest checkpointed mid-way and restored in a fresh process finishes with the uninterrupted result; registers, power states and RAM at restore equal those at save; virtual time continues from the saved instant', async () => {
    const known = expectedResult();
    const reference = await createMachine(config(), { console: () => undefined });
    let uninterrupted: Results;
    try {
      go(reference); // uninterrupted: the guest never waits
      expect(await reference.run()).toEqual(shutdown);
      uninterrupted = resultsOfMachine(reference);
    } finally {
      await reference.close();
    }
    expect({ x: uninterrupted.x, v: uninterrupted.v }).toEqual(known);

    const dir = path.join(work, 'ckpt');
    const saved = await checkpointMidway(dir);
    const [boot, second] = saved.threadContexts;
    // Really mid-way, with live state: stopped in the half-way wait, before round 8's `subs x11`; both accumulators hold values.
    expect(boot.core.x11).toBe(BigInt(ROUNDS / 2 + 1));
    expect(boot.core.x10).not.toBe(0n);
    expect(boot.fp.v0).not.toBe(0n);
    expect(boot.mpState).toBe(KvmMpState.RUNNABLE);
    expect(second.mpState).toBe(KvmMpState.STOPPED); // never got a CPU_ON
    const manifest = CheckpointReader.open(dir).manifest;
    expect(manifest.sections.map((s) => s.name).sort()).toEqual(['arm64.virtual-counter', 'machine.m5op-stats', 'machine.sim-time', 'vcpu.0', 'vcpu.1', 'vm.irqfds']);
    expect(manifest.cpu.kind).toBe('arm64-id-regs');
    expect(manifest.cpu.features['ID_AA64MMFR0_EL1.PARange']).toMatch(/^0x[0-9a-f]+$/);

    await sleep(ON_DISK_MS);
    const child = runChild(dir, path.join(work, 'out.json'));
    expect(child.atRestore.ramSha256).toBe(saved.ram);
    expect(child.atRestore.threadContexts).toEqual(saved.threadContexts);
    // What KVM itself holds (ONE_REG and KVM_GET_MP_STATE, not the restored context): X and V registers, PC, power states.
    child.atRestore.kernel.forEach((k, id) => {
      expect(k.core).toEqual(saved.threadContexts[id].core);
      expect(k.fp).toEqual(saved.threadContexts[id].fp);
    });
    expect(child.atRestore.kernel.map((k) => k.mpState)).toEqual([KvmMpState.RUNNABLE, KvmMpState.STOPPED]);

    expect(child.after.exit).toEqual(shutdown);
    const restored = resultsOf(child.after.results, child.after.buffer);
    expect(restored.sha256).toBe(uninterrupted.sha256);
    expect({ x: restored.x, v: restored.v }).toEqual(known);

    // The counter read after the restore (round 8's end) continues from the one read before the save (round 9's
    // end): never backwards, and less than one second ahead (one round's work) though the checkpoint sat ON_DISK_MS on disk.
    const before = restored.counterAt(ROUNDS / 2 + 1);
    const after = restored.counterAt(ROUNDS / 2);
    expect(before).toBe(saved.counter);
    expect(after).toBeGreaterThan(before);
    expect(after - before).toBeLessThan(restored.frequency);
  }, SLOW);

  it("refuses to checkpoint a machine with the in-kernel vGICv3, naming it and pointing to gic: 'none'; nothing is written", async () => {
    const m = await createMachine(config({ gic: 'kernel', timer: 'none' }, 1), { console: () => undefined });
    const dir = path.join(work, 'ckpt');
    try {
      expect(await m.run({ maxExits: 1 })).toEqual({ reason: 'exit-limit' });
      const error = await m.checkpoint(dir).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CheckpointError);
      expect((error as CheckpointError).code).toBe('not-saveable');
      expect((error as CheckpointError).message).toContain('vGICv3');
      expect((error as CheckpointError).message).toContain("gic: 'none'");
      expect(fs.existsSync(dir)).toBe(false);
    } finally {
      await m.close();
    }
  }, SLOW);

  it('refuses a restore on a CPU whose ID registers differ, listing the field', async () => {
    const dir = path.join(work, 'ckpt');
    await checkpointMidway(dir);
    rewriteManifest(dir, (raw) => {
      const word = 'ID_AA64MMFR0_EL1.PARange';
      const value = BigInt(raw.cpu.features[word]);
      (raw.cpu.features as Record<string, string>)[word] = `0x${(value === 1n ? 2n : 1n).toString(16)}`;
    });
    const error = await restoreError(dir);
    expect(error.code).toBe('cpu-mismatch');
    expect(error.message).toContain('ID_AA64MMFR0_EL1.PARange');
  }, SLOW);
});
