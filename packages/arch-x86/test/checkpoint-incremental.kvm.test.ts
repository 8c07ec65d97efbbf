/**
 * Incremental checkpoints on real KVM (issue #8 item 3): a guest writes 64 pages, the machine
 * takes a full checkpoint that starts dirty-page logging, the guest then writes exactly K of
 * those pages, and the incremental checkpoint over the first stores exactly K pages (manifest
 * and allocated blocks). Restoring the chain gives the memory a full checkpoint of the same
 * instant holds, and the guest continues. A wrong, missing or replaced parent is refused.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { CheckpointError, createMachine, restoreMachine, type Machine, type MachineConfig } from '@kvmts/core';
import { assembleGuest, type X86Boot, type X86ThreadContextData } from '@kvmts/arch-x86';

const PAGE = 4096;
const RAM = 16 * 1024 * 1024;
const FIRST = 0x400000;
const STRIDE = 2 * PAGE;
const FIRST_PASS = 64;
const K = 5;
const SLOW = 360_000;

function config(): MachineConfig<X86Boot> {
  const guest = assembleGuest('incremental-tests');
  return {
    arch: 'x86_64',
    memory: RAM,
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

async function checkpointError(work: () => Promise<unknown>): Promise<CheckpointError> {
  try {
    await work();
  } catch (e) {
    if (e instanceof CheckpointError) return e;
    throw e;
  }
  throw new Error('expected a CheckpointError');
}

describeKvm('incremental checkpoints (x86)', () => {
  let work: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-incr-'));
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  itKvm(
    'an incremental checkpoint after the guest writes K pages stores those K pages (and, under an emulated CPU, the page-table pages walked), and its chain restores the full state',
    async () => {
      const base = path.join(work, 'base');
      const incr = path.join(work, 'incr');
      const full = path.join(work, 'full');
      const m = await createMachine(config(), { console: () => undefined });
      try {
        // Pass 1 (64 pages), stop.
        expect(await m.run({ maxExits: 1 })).toEqual({ reason: 'exit-limit' });
        const baseManifest = await m.checkpoint(base, { track: true });
        expect(baseManifest.memory.parent).toBeNull();
        // The marker exit, then pass 2 (K pages), stop.
        expect(await m.run({ maxExits: 2 })).toEqual({ reason: 'exit-limit' });
        expect(qwordAt(m, FIRST + (K - 1) * STRIDE)).toBe(0x1001n);
        expect(qwordAt(m, FIRST + K * STRIDE)).toBe(0x1000n);

        const manifest = await m.checkpoint(incr, { parent: base });
        // The page map holds the K pages the guest wrote, and may hold the guest's page-table
        // pages its walks went through: under an emulated CPU (the nested tier: QEMU's TCG) the
        // page walker asks the nested page tables for write access to every guest page-table
        // entry it reads, and KVM's dirty log records that write (docs/checkpoints.md). Identity
        // map with 2 MiB pages at 0x10000 (PML4, PDPT, then the PD for the first GiB): the code at
        // 0x8000 and the data at 4 MiB are both reached through those three pages.
        const map = fs.readFileSync(path.join(incr, 'pages.bin'));
        const set: number[] = [];
        for (let p = 0; p < RAM / PAGE; p++) if (map[p >>> 3] & (1 << (p & 7))) set.push(p);
        const written = Array.from({ length: K }, (_, i) => (FIRST + i * STRIDE) / PAGE);
        const extra = set.filter((p) => !written.includes(p));
        expect(set.filter((p) => written.includes(p))).toEqual(written);
        const walkedTables = [0x10000 / PAGE, 0x11000 / PAGE, 0x12000 / PAGE];
        expect(extra.filter((p) => !walkedTables.includes(p)).map((p) => `0x${(p * PAGE).toString(16)}`)).toEqual([]);
        const stored = K + extra.length;
        expect(manifest.memory.parent).toEqual({ id: baseManifest.id, path: '../base' });
        expect(manifest.memory.pages).toBe(stored);
        // Zero pages among the extra ones would be holes: K ≤ data pages ≤ stored.
        const dataPages = manifest.memory.dataPages;
        expect(dataPages).toBeGreaterThanOrEqual(K);
        expect(dataPages).toBeLessThanOrEqual(stored);
        // The file holds those pages of data, however long it is.
        const image = fs.statSync(path.join(incr, 'memory.img'));
        expect(image.size).toBe(RAM);
        expect(image.blocks * 512).toBeGreaterThanOrEqual(dataPages * PAGE);
        expect(image.blocks * 512).toBeLessThanOrEqual(dataPages * PAGE + 4 * PAGE);

        const held = ramSha256(m);
        const ctx = await m.vcpus[0].call<X86ThreadContextData>('threadContext');
        await m.checkpoint(full);

        // A checkpoint that is not the machine's last is refused as a parent, naming it.
        const stale = await checkpointError(() => m.checkpoint(path.join(work, 'stale'), { parent: incr }));
        expect(stale).toMatchObject({ code: 'incompatible', path: incr });
        expect(stale.message).toContain("is not this machine's previous checkpoint");
        expect(fs.existsSync(path.join(work, 'stale'))).toBe(false);

        for (const dir of [incr, full]) {
          const r = await restoreMachine(dir, { console: () => undefined });
          try {
            expect(ramSha256(r)).toBe(held);
            const rctx = await r.vcpus[0].call<X86ThreadContextData>('threadContext');
            expect(rctx.regs.rip).toBe(ctx.regs.rip);
            expect(rctx.regs.rdx).toBe(ctx.regs.rdx);
            // It continues: the marker, then pass 3 writes value 0x1002 to the K pages.
            expect(await r.run({ maxExits: 2 })).toEqual({ reason: 'exit-limit' });
            expect(qwordAt(r, FIRST)).toBe(0x1002n);
            expect(qwordAt(r, FIRST + K * STRIDE)).toBe(0x1000n);
          } finally {
            await r.close();
          }
        }
      } finally {
        await m.close();
      }

      // A missing parent, then a replaced one, named.
      fs.renameSync(base, path.join(work, 'moved'));
      const missing = await checkpointError(() => restoreMachine(incr, { console: () => undefined }));
      expect(missing).toMatchObject({ code: 'missing', path: base });
      expect(missing.message).toContain(`is the parent checkpoint of ${incr}`);
      fs.renameSync(full, base);
      const replaced = await checkpointError(() => restoreMachine(incr, { console: () => undefined }));
      expect(replaced).toMatchObject({ code: 'incompatible', path: base });
      expect(replaced.message).toContain('the parent was replaced by another checkpoint');
    },
    SLOW,
  );

  itKvm(
    'a link that cannot be written cuts the chain: its parent is refused after it, and a tracked checkpoint starts a new one',
    async () => {
      const m = await createMachine(config(), { console: () => undefined });
      try {
        expect(await m.run({ maxExits: 1 })).toEqual({ reason: 'exit-limit' });
        const base = path.join(work, 'base');
        await m.checkpoint(base, { track: true });
        expect(await m.run({ maxExits: 2 })).toEqual({ reason: 'exit-limit' });
        // The link's directory cannot be made (its parent does not exist): the write fails after
        // the dirty log was read and reset, so the pages the guest wrote are in no checkpoint.
        const failed = await checkpointError(() => m.checkpoint(path.join(work, 'no-such-dir', 'link'), { parent: base }));
        expect(failed).toMatchObject({ code: 'missing', message: expect.stringContaining(`parent directory ${path.join(work, 'no-such-dir')} does not exist`) });
        const refused = await checkpointError(() => m.checkpoint(path.join(work, 'link'), { parent: base }));
        expect(refused).toMatchObject({ code: 'incompatible', path: base });
        expect(refused.message).toContain('the last one failed');
        expect(fs.existsSync(path.join(work, 'link'))).toBe(false);
        const again = await m.checkpoint(path.join(work, 'again'), { track: true });
        const link = await m.checkpoint(path.join(work, 'link'), { parent: path.join(work, 'again') });
        expect(link.memory.parent).toEqual({ id: again.id, path: '../again' });
        expect(link.memory.pages).toBe(0);
      } finally {
        await m.close();
      }
    },
    SLOW,
  );

  itKvm(
    'a machine that never started tracking refuses a parent',
    async () => {
      const m = await createMachine(config(), { console: () => undefined });
      try {
        expect(await m.run({ maxExits: 1 })).toEqual({ reason: 'exit-limit' });
        await m.checkpoint(path.join(work, 'a'));
        const e = await checkpointError(() => m.checkpoint(path.join(work, 'b'), { parent: path.join(work, 'a') }));
        expect(e).toMatchObject({ code: 'incompatible', path: path.join(work, 'a') });
        expect(e.message).toContain('logs no changes since a checkpoint');
        const self = await checkpointError(() => m.checkpoint(path.join(work, 'a'), { parent: path.join(work, 'a') }));
        expect(self.message).toContain('cannot replace its own parent');
      } finally {
        await m.close();
      }
    },
    SLOW,
  );
});
