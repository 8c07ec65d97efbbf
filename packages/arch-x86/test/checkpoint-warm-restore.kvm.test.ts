/**
 * Warm restores on real KVM: Machine.restore(dir) puts a checkpoint into a machine that exists
 * already (its vCPU threads up), as Firecracker restores into a running process. The restored
 * machine's registers and memory equal the saved ones, the guest continues correctly, the same
 * machine takes checkpoints again and again (also its own, after it ran on), an incremental chain
 * restores the same way, a machine of another shape is refused untouched, and onProgress reports
 * each phase up to its total.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { CheckpointError, checkpointConfig, createMachine, type CheckpointProgress, type Machine, type MachineConfig } from '@kvmts/core';
import { assembleGuest, type X86Boot, type X86ThreadContextData } from '@kvmts/arch-x86';

const PAGE = 4096;
const RAM = 16 * 1024 * 1024;
const FIRST = 0x400000;
const STRIDE = 2 * PAGE;
const FIRST_PASS = 64;
const K = 5;
const SLOW = 360_000;

function config(memory = RAM): MachineConfig<X86Boot> {
  const guest = assembleGuest('incremental-tests');
  return {
    arch: 'x86_64',
    memory,
    archOptions: { irqchip: 'kernel' },
    boot: {
      kind: 'flat',
      mode: 'long',
      cpl: 0,
      image: guest.bytes,
      entry: guest.symbols.get('touch_pages')!,
      registers: [{ rdi: BigInt(FIRST), rsi: BigInt(FIRST_PASS), rcx: BigInt(K), rdx: 0x1000n, r8: BigInt(STRIDE) }],
    },
  };
}

const ramSha256 = (m: Machine): string => createHash('sha256').update(m.memory.bytes(0, RAM)).digest('hex');
const qwordAt = (m: Machine, gpa: number): bigint => m.memory.view(gpa, 8).getBigUint64(0, true);
const contextOf = (m: Machine): Promise<X86ThreadContextData> => m.vcpus[0].call<X86ThreadContextData>('threadContext');
/** Registers and special registers (the TSC moves on by itself; everything else must be equal). */
const cpuState = (tc: X86ThreadContextData) => ({ regs: tc.regs, sregs: tc.sregs });

/** Reports of one phase are in order, start at 0 and end at their total. */
function expectPhase(reports: readonly CheckpointProgress[], phase: CheckpointProgress['phase'], total: number): void {
  const mine = reports.filter((r) => r.phase === phase);
  expect(mine.length).toBeGreaterThanOrEqual(2);
  expect(mine[0]).toEqual({ phase, bytesDone: 0, bytesTotal: total });
  expect(mine[mine.length - 1]).toEqual({ phase, bytesDone: total, bytesTotal: total });
  for (let i = 1; i < mine.length; i++) expect(mine[i].bytesDone).toBeGreaterThan(mine[i - 1].bytesDone); // each report advances: one at the total
}

describeKvm('warm restore into an existing machine (x86)', () => {
  let work: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-warm-'));
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  itKvm(
    'restore(dir) gives the saved registers and memory in a running machine, and the guest continues; again and again, and incrementally',
    async () => {
      const dir = path.join(work, 'full');
      const m = await createMachine(config(), { console: () => undefined });
      // Pass 1 (64 pages), stop; save with progress.
      expect(await m.run({ maxExits: 1 })).toEqual({ reason: 'exit-limit' });
      const saving: CheckpointProgress[] = [];
      const manifest = await m.checkpoint(dir, { onProgress: (p) => saving.push(p) });
      expectPhase(saving, 'save-memory', RAM);
      expect(manifest.memory.pages).toBe(manifest.memory.dataPages);
      const savedCtx = await contextOf(m);
      const savedRam = ramSha256(m);
      // The warm spare: a machine made from the checkpoint's config, its vCPU thread up.
      const spare = await createMachine(checkpointConfig(dir), { console: () => undefined });
      try {
        // The original runs on (the marker, pass 2 rewrites K pages): it no longer holds the saved state.
        expect(await m.run({ maxExits: 2 })).toEqual({ reason: 'exit-limit' });
        expect(qwordAt(m, FIRST)).toBe(0x1001n);

        const restoring: CheckpointProgress[] = [];
        await spare.restore(dir, { onProgress: (p) => restoring.push(p) });
        expectPhase(restoring, 'verify-memory', manifest.memory.pages * PAGE);
        expect(cpuState(await contextOf(spare))).toEqual(cpuState(savedCtx));
        expect(ramSha256(spare)).toBe(savedRam);
        // It continues: the marker, then pass 2 writes 0x1001 to the first K pages only.
        expect(await spare.run({ maxExits: 2 })).toEqual({ reason: 'exit-limit' });
        expect(qwordAt(spare, FIRST + (K - 1) * STRIDE)).toBe(0x1001n);
        expect(qwordAt(spare, FIRST + K * STRIDE)).toBe(0x1000n);

        // The same machine again, after it ran on; and the original, into its own past.
        for (const target of [spare, m]) {
          await target.restore(dir, { verifyMemory: false });
          expect(cpuState(await contextOf(target))).toEqual(cpuState(savedCtx));
          expect(ramSha256(target)).toBe(savedRam);
          expect(qwordAt(target, FIRST)).toBe(0x1000n);
          expect(await target.run({ maxExits: 2 })).toEqual({ reason: 'exit-limit' });
          expect(qwordAt(target, FIRST)).toBe(0x1001n);
        }

        // An incremental chain: a tracked base, K pages rewritten, the link over it.
        const base = path.join(work, 'base');
        const incr = path.join(work, 'incr');
        await m.checkpoint(base, { track: true });
        expect(await m.run({ maxExits: 2 })).toEqual({ reason: 'exit-limit' });
        const link = await m.checkpoint(incr, { parent: base });
        const linkCtx = await contextOf(m);
        const linkRam = ramSha256(m);
        const applying: CheckpointProgress[] = [];
        await spare.restore(incr, { verifyMemory: false, onProgress: (p) => applying.push(p) });
        expectPhase(applying, 'apply-increments', link.memory.pages * PAGE);
        expect(applying.some((p) => p.phase === 'verify-memory')).toBe(false);
        expect(cpuState(await contextOf(spare))).toEqual(cpuState(linkCtx));
        expect(ramSha256(spare)).toBe(linkRam);
        expect(await spare.run({ maxExits: 2 })).toEqual({ reason: 'exit-limit' });
        expect(qwordAt(spare, FIRST)).toBe(0x1003n);
      } finally {
        await spare.close();
        await m.close();
      }
    },
    SLOW,
  );

  itKvm(
    'a machine of another shape is refused before anything changes, naming the difference',
    async () => {
      const dir = path.join(work, 'full');
      const m = await createMachine(config(), { console: () => undefined });
      const bigger = await createMachine(config(2 * RAM), { console: () => undefined });
      try {
        expect(await m.run({ maxExits: 1 })).toEqual({ reason: 'exit-limit' });
        await m.checkpoint(dir);
        expect(await bigger.run({ maxExits: 1 })).toEqual({ reason: 'exit-limit' });
        const before = await contextOf(bigger);
        let error: unknown;
        try {
          await bigger.restore(dir);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(CheckpointError);
        expect(error).toMatchObject({ code: 'incompatible', path: dir, message: expect.stringContaining('memory regions differ') });
        // Untouched: it continues its own run.
        expect(cpuState(await contextOf(bigger))).toEqual(cpuState(before));
        expect(await bigger.run({ maxExits: 2 })).toEqual({ reason: 'exit-limit' });
        expect(qwordAt(bigger, FIRST)).toBe(0x1001n);
      } finally {
        await bigger.close();
        await m.close();
      }
    },
    SLOW,
  );
});
