/**
 * gem5's m5ops executed by a real guest (guests/m5ops-tests.S) through both x86 calling
 * conventions — the MMIO window at 0xFFFF0000 and the port doorbell — on real KVM: the owner's
 * handlers see the guest's arguments, results reach the guest's rax (the guest reports them on a
 * port), readfile and writefile move real files in a temp dir, the statistics ops act on the
 * vCPU's exit counts, exit and fail end the run, and what no one handles is reported by name.
 */
import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GuestError, createMachine, type M5opCall, type Machine, type MachineExit } from '@kvmts/core';
import { GUEST_LAYOUT, assembleGuest, exitDevice, m5ops, type GuestImage } from '@kvmts/arch-x86';

const reportModule = path.resolve(__dirname, 'fixtures/report-port-plugin.js');
const { readReports } = require(reportModule) as { readReports(shared: SharedArrayBuffer): number[] };

const FOUR_GIB = 2 ** 32;
/** What the guest's readfile copies from: 32 distinct bytes. */
const READ_FILE = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);
/** Where the scenarios that take a name find it (boot.data puts it there). */
const NAME_GPA = 0x100000;

let guest: GuestImage;
let tmp: string;
let readfile: string;
let outdir: string;

beforeAll(() => {
  guest = assembleGuest('m5ops-tests');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-m5ops-'));
  readfile = path.join(tmp, 'input.bin');
  fs.writeFileSync(readfile, READ_FILE);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
beforeEach(() => {
  outdir = fs.mkdtempSync(path.join(tmp, 'out-'));
});

type Registers = Record<string, number | bigint>;

function machine(entry: string, options: { registers?: Registers | Registers[]; cpus?: number; files?: boolean; data?: { gpa: number; bytes: Uint8Array }[] } = {}): Promise<Machine> {
  return createMachine({
    arch: 'x86_64',
    memory: '16M',
    cpus: options.cpus ?? 1,
    plugins: [reportModule],
    devices: [
      ...m5ops(options.files === false ? {} : { readfile, outdir }),
      { plugin: reportModule, type: 'test-report-port', name: 'report', options: { port: 0x10 } },
      exitDevice(),
    ],
    boot: { kind: 'flat', mode: 'long', cpl: 0, image: guest.bytes, entry: guest.symbols.get(entry)!, registers: options.registers, mapBytes: FOUR_GIB, data: options.data },
  });
}

/** The guest's reports as 64-bit values (each is two dwords, low first). */
function reports(m: Machine): bigint[] {
  const words = readReports(m.deviceState.get('report')!);
  const out: bigint[] = [];
  for (let i = 0; i + 1 < words.length; i += 2) out.push(BigInt(words[i]) | (BigInt(words[i + 1]) << 32n));
  return out;
}

/** Records every call of the ops that reach the main thread in all_ops; returns 'end-run' for `endOn`. */
function recordCalls(m: Machine, endOn?: string): M5opCall[] {
  const calls: M5opCall[] = [];
  for (const op of ['resetstats', 'workbegin', 'dumpstats', 'workend', 'dumpresetstats', 'checkpoint', 'switchcpu']) {
    m.m5ops.handle(op, (call) => {
      calls.push(call);
      return call.op === endOn ? 'end-run' : undefined;
    });
  }
  return calls;
}

function guestError(exit: MachineExit): GuestError {
  expect(exit.reason).toBe('error');
  const error = (exit as { error: unknown }).error;
  expect(error).toBeInstanceOf(GuestError);
  return error as GuestError;
}

/** Per form, the results all_ops reports: 0 for every op the machine carries out, then readfile's and writefile's byte counts. */
const WINDOW_RESULTS = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 16n, 6n];
const DOORBELL_RESULTS = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 12n, 5n];

describeKvm('m5ops from a real guest', () => {
  it('executes every m5op in both forms: handlers see the arguments, results reach rax, files move, exit ends the run', async () => {
    const m = await machine('all_ops', { registers: { r15: 0 } });
    try {
      const calls = recordCalls(m);
      // The vCPU is stopped and drained while a handler runs: its state is readable, and the
      // access is complete — rax holds the op's result (0), not the sentinel loaded before it.
      const atCheckpoint: bigint[][] = [];
      m.m5ops.handle('checkpoint', async (call) => {
        calls.push(call);
        const tc = await m.vcpus[call.vcpuId].call<{ regs: { rax: bigint; rdi: bigint; rsi: bigint } }>('threadContext');
        atCheckpoint.push([tc.regs.rax, tc.regs.rdi, tc.regs.rsi]);
      });
      const exit = await m.run();
      expect(exit).toEqual({ reason: 'm5-exit', vcpuId: 0, code: 0, delayNs: 0x99n });

      // Results, as the guest saw them in rax (a sentinel would show a result that never arrived).
      expect(reports(m)).toEqual([...WINDOW_RESULTS, ...DOORBELL_RESULTS]);

      // The handlers saw each op once, in order, with the guest's arguments.
      const seen = calls.map((c) => [c.op, c.vcpuId, c.args]);
      const form = (w: number) => [
        ['resetstats', 0, { delayNs: 0n, periodNs: 0n }],
        ['workbegin', 0, { workId: BigInt(7 + 4 * w), threadId: BigInt(3 + w) }],
        ['dumpstats', 0, { delayNs: 0n, periodNs: 0n }],
        ['workend', 0, { workId: BigInt(7 + 4 * w), threadId: BigInt(3 + w) }],
        ['dumpresetstats', 0, { delayNs: 0n, periodNs: 0n }],
        ['checkpoint', 0, { delayNs: BigInt(0x11 + 0x100 * w), periodNs: BigInt(0x22 + 0x100 * w) }],
        ['switchcpu', 0, {}],
      ];
      expect(seen).toEqual([...form(0), ...form(1)]);
      expect(calls.filter((c) => c.op === 'switchcpu').map((c) => c.registers[0])).toEqual([0x33n, 0x133n]);
      expect(atCheckpoint).toEqual([
        [0n, 0x11n, 0x22n],
        [0n, 0x111n, 0x122n],
      ]);
      expect(calls.map((c) => c.func)).toEqual([0x40, 0x5a, 0x41, 0x5b, 0x42, 0x43, 0x52, 0x40, 0x5a, 0x41, 0x5b, 0x42, 0x43, 0x52]);

      // readfile copied the configured file into guest memory; writefile wrote the named file.
      const rfBuf = guest.symbols.get('rf_buf')!;
      expect(m.memory.read(rfBuf, 16)).toEqual(READ_FILE.subarray(4, 20));
      expect(m.memory.read(rfBuf + 0x40, 12)).toEqual(READ_FILE.subarray(20, 32));
      expect(m.memory.read(rfBuf + 0x40 + 12, 4)).toEqual(new Uint8Array(4)); // nothing past the end of the file
      expect(fs.readFileSync(path.join(outdir, 'guest-out.txt'), 'utf8')).toBe('hello world');
      expect(fs.readdirSync(outdir)).toEqual(['guest-out.txt']);

      // Statistics: each dump covers the exits since the last reset (the resetting op's own exit is before it).
      const dumps = m.m5ops.statsDumps;
      expect(dumps.map((d) => [d.by, d.vcpuId, d.exits[0].MMIO ?? 0, d.exits[0].IO ?? 0, d.work.length, d.openWork])).toEqual([
        ['dumpstats', 0, 2, 4, 0, 1], //      window: report, workbegin, report, dumpstats
        ['dumpresetstats', 0, 4, 8, 1, 0], // + report, workend, report, dumpresetstats
        ['dumpstats', 0, 0, 6, 0, 1], //      doorbell: the same ops, all port writes
        ['dumpresetstats', 0, 0, 12, 1, 0],
      ]);
      expect(calls.find((c) => c.op === 'dumpstats')!.statsDump).toBe(dumps[0]);

      // Work items: one per form, timed when the vCPU took the exits.
      const work = m.m5ops.workItems;
      expect(work.map((w) => [w.workId, w.threadId, w.beginVcpu, w.endVcpu])).toEqual([
        [7n, 3n, 0, 0],
        [11n, 4n, 0, 0],
      ]);
      for (const w of work) expect(w.durationNs).toBe(w.endNs - w.beginNs);
      expect(work[0].durationNs).toBeGreaterThan(0n);
      expect(calls.find((c) => c.op === 'workend')!.workItem).toBe(work[0]);
      expect(dumps[1].work).toEqual([work[0]]);
    } finally {
      await m.close();
    }
  });

  it('m5 exit through the doorbell ends the run; a handler returning end-run ends it with the call', async () => {
    const m = await machine('all_ops', { registers: { r15: 1 } });
    try {
      recordCalls(m);
      expect(await m.run()).toEqual({ reason: 'm5-exit', vcpuId: 0, code: 0, delayNs: 0x99n });
      expect(reports(m)).toEqual([...WINDOW_RESULTS, ...DOORBELL_RESULTS]);
    } finally {
      await m.close();
    }
    const ended = await machine('all_ops', { registers: { r15: 0 } });
    try {
      recordCalls(ended, 'checkpoint');
      const exit = await ended.run();
      expect(exit).toMatchObject({ reason: 'm5op-end', call: { op: 'checkpoint', func: 0x43, vcpuId: 0, args: { delayNs: 0x11n, periodNs: 0x22n } } });
      // The run ended at the window's checkpoint: the five ops before it reported their results.
      expect(reports(ended)).toEqual(WINDOW_RESULTS.slice(0, 5));
    } finally {
      await ended.close();
    }
  });

  it('an m5op pauses only the vCPU that called it; the others keep running while its handler works', async () => {
    const m = await machine('all_ops', { cpus: 2, registers: [{ r15: 0 }, { rip: guest.symbols.get('io_loop')! }] });
    try {
      recordCalls(m);
      const during: { progress: number; running: boolean }[] = [];
      // vCPU 1 makes an exit between each window's resetstats and its dumpstats: workbegin, between
      // them, waits for one (else, on a loaded host, vCPU 1's thread may not get a core in that
      // short window, and no dump shows its exits: seen once in CI).
      m.m5ops.handle('workbegin', async () => {
        const start = m.exitCounts()[1].IO ?? 0;
        for (let waited = 0; waited < 5000 && (m.exitCounts()[1].IO ?? 0) === start; waited += 5) await new Promise((r) => setTimeout(r, 5));
      });
      m.m5ops.handle('checkpoint', async () => {
        const before = m.exitCounts()[1].IO ?? 0;
        await new Promise((r) => setTimeout(r, 200));
        during.push({ progress: (m.exitCounts()[1].IO ?? 0) - before, running: m.vcpus[1].loopActive && !m.vcpus[0].loopActive });
      });
      expect(await m.run()).toEqual({ reason: 'm5-exit', vcpuId: 0, code: 0, delayNs: 0x99n });
      expect(during).toHaveLength(2);
      for (const d of during) {
        expect(d.progress).toBeGreaterThan(0);
        expect(d.running).toBe(true);
      }
      expect(reports(m)).toEqual([...WINDOW_RESULTS, ...DOORBELL_RESULTS]);
      // The statistics cover every vCPU; the exit ended the run and stopped vCPU 1 too. Each
      // window's dumpstats follows a workbegin that waited for an exit of vCPU 1 since the reset.
      expect(m.m5ops.statsDumps).toHaveLength(4);
      for (const dump of m.m5ops.statsDumps) expect(dump.exits).toHaveLength(2);
      expect([0, 2].map((i) => (m.m5ops.statsDumps[i].exits[1].IO ?? 0) > 0)).toEqual([true, true]);
      expect(m.vcpus[1].lastStop).toMatchObject({ reason: 'stopped' });
    } finally {
      await m.close();
    }
  });

  it('m5 fail ends the run with a GuestError carrying the code, from either form', async () => {
    for (const r15 of [0, 1]) {
      const m = await machine('fail_op', { registers: { r15 } });
      try {
        const error = guestError(await m.run());
        expect(error.kind).toBe('m5op-fail');
        expect(error.vcpuId).toBe(0);
        expect(error.details).toMatchObject({ op: 'fail', code: 42n, delayNs: 5n });
        expect(error.message).toMatch(/code 42/);
        expect(error.dump).toMatch(/rip: 0x/);
      } finally {
        await m.close();
      }
    }
  });

  it('reports an unhandled op by name and vCPU instead of ignoring it', async () => {
    // all_ops without handlers: the built-in ops pass, the first checkpoint has no handler.
    const m = await machine('all_ops', { registers: { r15: 0 } });
    try {
      const error = guestError(await m.run());
      expect(error.kind).toBe('m5op-unhandled');
      expect(error.details).toMatchObject({ op: 'checkpoint', func: 0x43 });
      expect(error.message).toMatch(/^vCPU 0: m5op checkpoint \(0x43\) is unhandled: no handler/);
      expect(reports(m)).toEqual(WINDOW_RESULTS.slice(0, 5));
      expect(m.m5ops.statsDumps).toHaveLength(2); // the built-in ops before it did run
    } finally {
      await m.close();
    }
    // Numbers gem5 does not define, through each form.
    for (const [r15, op] of [[0, 'unknown-0x99'], [1, 'unknown-0x1234']] as const) {
      const u = await machine('unknown_op', { registers: { r15 } });
      try {
        const error = guestError(await u.run());
        expect(error.kind).toBe('m5op-unhandled');
        expect(error.details.op).toBe(op);
        expect(error.message).toMatch(/not one of gem5's function numbers/);
      } finally {
        await u.close();
      }
    }
    // readfile with no host file configured and no handler.
    const r = await machine('readfile_at', { registers: { rdi: 0x200000, rsi: 8, rdx: 0 }, files: false });
    try {
      const error = guestError(await r.run());
      expect(error.details).toMatchObject({ op: 'readfile', func: 0x50 });
      expect(error.message).toMatch(/no host file is configured/);
    } finally {
      await r.close();
    }
  });

  it('readfile and writefile reject guest buffers outside RAM and names that leave the output directory', async () => {
    const outside = path.join(tmp, 'escaped.txt');
    fs.symlinkSync(tmp, path.join(outdir, 'link'));
    const cases: { entry: string; registers: Registers; name?: string; match: RegExp }[] = [
      { entry: 'readfile_at', registers: { rdi: 0x3000000, rsi: 16, rdx: 0 }, match: /readfile: guest buffer 0x3000000\.\.0x300000f is outside guest RAM/ },
      { entry: 'readfile_at', registers: { rdi: 2 ** 32 + 0x10, rsi: 16, rdx: 0 }, match: /readfile: guest address 0x100000010 \(in 0x100000010\.\.0x10000001f\) is not mapped by the guest's page tables/ },
      { entry: 'writefile_at', registers: { rdi: 0x8000, rsi: 4, rdx: 0, rcx: NAME_GPA }, name: '../escaped.txt', match: /leaves the output directory/ },
      { entry: 'writefile_at', registers: { rdi: 0x8000, rsi: 4, rdx: 0, rcx: NAME_GPA }, name: outside, match: /is absolute/ },
      { entry: 'writefile_at', registers: { rdi: 0x8000, rsi: 4, rdx: 0, rcx: NAME_GPA }, name: 'link/escaped.txt', match: /goes through a link out of the output directory/ },
      { entry: 'writefile_at', registers: { rdi: 0xfff000, rsi: 0x2000, rdx: 0, rcx: NAME_GPA }, name: 'big.bin', match: /writefile: guest buffer 0xfff000\.\.0x1000fff is outside guest RAM/ },
    ];
    for (const c of cases) {
      const data = c.name === undefined ? [] : [{ gpa: NAME_GPA, bytes: new Uint8Array([...Buffer.from(c.name), 0]) }];
      const m = await machine(c.entry, { registers: c.registers, data });
      try {
        const error = guestError(await m.run());
        expect(error.kind).toBe('m5op-bad-argument');
        expect(error.message).toMatch(c.match);
      } finally {
        await m.close();
      }
    }
    expect(fs.existsSync(outside)).toBe(false);
    expect(fs.readdirSync(outdir)).toEqual(['link']);
  });

  it('takes buffer addresses as guest-virtual, as gem5 does: KVM_TRANSLATE walks the guest page tables', async () => {
    // Remap the 2 MiB page at virtual 0x200000 to physical 0x600000 in the boot page tables
    // (PML4, PDPT, then the first PD: its entry 1 maps 0x200000).
    const REMAPPED = 0x600000;
    const remap = (m: Machine) => {
      const pde = m.memory.view(GUEST_LAYOUT.pageTables + 2 * 4096 + 8, 8);
      const entry = pde.getBigUint64(0, true);
      const mask = 0x000fffffffe00000n;
      expect(entry & mask).toBe(0x200000n);
      pde.setBigUint64(0, (entry & ~mask) | BigInt(REMAPPED), true);
    };
    const r = await machine('readfile_at', { registers: { rdi: 0x200100, rsi: 16, rdx: 0 } });
    try {
      remap(r);
      expect(await r.run()).toEqual({ reason: 'poweroff', status: 0 });
      expect(reports(r)).toEqual([16n]);
      expect(r.memory.read(REMAPPED + 0x100, 16)).toEqual(READ_FILE.subarray(0, 16));
      expect(r.memory.read(0x200100, 16)).toEqual(new Uint8Array(16));
    } finally {
      await r.close();
    }
    const data = [
      { gpa: REMAPPED + 0x200, bytes: new Uint8Array(Buffer.from('remapped')) },
      { gpa: REMAPPED + 0x300, bytes: new Uint8Array(Buffer.from('virtual.txt\0')) },
      { gpa: 0x200200, bytes: new Uint8Array(Buffer.from('identity')) },
    ];
    const w = await machine('writefile_at', { registers: { rdi: 0x200200, rsi: 8, rdx: 0, rcx: 0x200300 }, data });
    try {
      remap(w);
      expect(await w.run()).toEqual({ reason: 'poweroff', status: 0 });
      expect(reports(w)).toEqual([8n]);
      expect(fs.readFileSync(path.join(outdir, 'virtual.txt'), 'utf8')).toBe('remapped');
    } finally {
      await w.close();
    }
  });
});
