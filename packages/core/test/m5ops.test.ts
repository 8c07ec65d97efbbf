/**
 * The arch-neutral m5ops without KVM: gem5's op table and window decoding (golden values from
 * gem5's include/gem5/asm/generic/m5ops.h), readfile/writefile against real files in a temp dir
 * with a byte array standing in for guest RAM, the vCPU-thread calls, the statistics and work
 * items, and the main thread's dispatch: defaults, handlers, unhandled and failing ops.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ConfigError,
  GuestError,
  M5OP_TABLE,
  M5opGuestCalls,
  M5opHandlerError,
  M5opStats,
  M5ops,
  checkM5opFileOptions,
  m5opByFunc,
  m5opByName,
  m5opFuncFromOffset,
  m5opName,
  m5opOffset,
  m5opOutputPath,
  m5opReadFile,
  m5opStop,
  m5opWriteFile,
  physicalAddressSpace,
  virtualAddressSpace,
  type CpuStop,
  type ExitCounts,
  type GuestRam,
  type M5opCall,
} from '@kvmts/core';

type M5opStop = Extract<CpuStop, { reason: 'm5op' }>;

/** Guest RAM stand-in: `size` bytes at guest-physical 0, throwing outside like GuestMemory (the KVM suite uses the real one). */
function ram(size: number): GuestRam & { raw: Uint8Array } {
  const raw = new Uint8Array(size);
  return {
    raw,
    bytes(gpa: number, length: number) {
      if (gpa < 0 || gpa + length > size) throw new ConfigError('guestMemory', `no RAM region holds 0x${gpa.toString(16)}`);
      return raw.subarray(gpa, gpa + length);
    },
  };
}

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-m5ops-unit-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the m5op table', () => {
  it("has gem5's function numbers and argument names", () => {
    const golden: [string, number, string[]][] = [
      ['exit', 0x21, ['delayNs']],
      ['fail', 0x22, ['delayNs', 'code']],
      ['resetstats', 0x40, ['delayNs', 'periodNs']],
      ['dumpstats', 0x41, ['delayNs', 'periodNs']],
      ['dumpresetstats', 0x42, ['delayNs', 'periodNs']],
      ['checkpoint', 0x43, ['delayNs', 'periodNs']],
      ['writefile', 0x4f, ['address', 'length', 'offset', 'filenameAddress']],
      ['readfile', 0x50, ['address', 'length', 'offset']],
      ['switchcpu', 0x52, []],
      ['workbegin', 0x5a, ['workId', 'threadId']],
      ['workend', 0x5b, ['workId', 'threadId']],
      ['arm', 0x00, ['address']],
      ['quiesce', 0x01, []],
      ['rpns', 0x07, []],
      ['panic', 0x54, []],
    ];
    for (const [name, func, args] of golden) {
      expect(m5opByName(name)).toMatchObject({ func, args });
      expect(m5opByFunc(func)?.name).toBe(name);
    }
  });

  it('names every number once and says what each op does without a handler', () => {
    expect(new Set(M5OP_TABLE.map((o) => o.func)).size).toBe(M5OP_TABLE.length);
    expect(new Set(M5OP_TABLE.map((o) => o.name)).size).toBe(M5OP_TABLE.length);
    expect(M5OP_TABLE.filter((o) => o.default === 'builtin').map((o) => o.name)).toEqual(['resetstats', 'dumpstats', 'dumpresetstats', 'workbegin', 'workend']);
    expect(M5OP_TABLE.filter((o) => o.default === 'end-run').map((o) => o.name)).toEqual(['exit', 'fail']);
    expect(M5OP_TABLE.filter((o) => o.where === 'thread').map((o) => o.name)).toEqual(['writefile', 'readfile']);
    expect(m5opByName('checkpoint')?.default).toBe('needs-handler');
    expect(m5opByName('switchcpu')?.default).toBe('needs-handler');
  });

  it('decodes the window offset: function = bits [15:8], bits [7:0] ignored', () => {
    expect(m5opFuncFromOffset(0x2100)).toBe(0x21);
    expect(m5opFuncFromOffset(0x43ff)).toBe(0x43);
    expect(m5opFuncFromOffset(0xff08)).toBe(0xff);
    expect(m5opOffset(0x5b)).toBe(0x5b00);
    expect(m5opName(0x41)).toBe('dumpstats');
    expect(m5opName(0x99)).toBe('unknown-0x99');
    expect(m5opName(0x1234)).toBe('unknown-0x1234');
    expect(m5opByFunc(0x5c)).toBeUndefined();
    expect(m5opByName('nope')).toBeUndefined();
  });
});

describe('readfile and writefile', () => {
  it('readfile copies from an offset, stops at the end of the file and returns the bytes copied', () => {
    const file = path.join(tmp, 'in.bin');
    fs.writeFileSync(file, Uint8Array.from({ length: 40 }, (_, i) => i + 1));
    const mem = ram(0x1000);
    expect(m5opReadFile(physicalAddressSpace(mem), file, 0x100n, 8n, 4n)).toBe(8n);
    expect([...mem.raw.subarray(0x100, 0x108)]).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
    expect(m5opReadFile(physicalAddressSpace(mem), file, 0x200n, 100n, 36n)).toBe(4n);
    expect([...mem.raw.subarray(0x200, 0x205)]).toEqual([37, 38, 39, 40, 0]);
    expect(m5opReadFile(physicalAddressSpace(mem), file, 0x300n, 16n, 40n)).toBe(0n);
    expect(m5opReadFile(physicalAddressSpace(mem), file, 0xff8n, 16n, 0n)).toMatchObject({ message: 'readfile: guest buffer 0xff8..0x1007 is outside guest RAM' });
    expect(m5opReadFile(physicalAddressSpace(mem), file, 2n ** 60n, 16n, 0n)).toMatchObject({ message: expect.stringMatching(/outside guest RAM/) });
  });

  it('writefile creates or truncates at offset 0 and writes into the file at other offsets', () => {
    const mem = ram(0x1000);
    mem.raw.set(Buffer.from('hello world'), 0x10);
    mem.raw.set(Buffer.from('out.txt\0'), 0x80);
    fs.writeFileSync(path.join(tmp, 'out.txt'), 'old contents that are longer');
    expect(m5opWriteFile(physicalAddressSpace(mem), tmp, 0x10n, 6n, 0n, 0x80n)).toBe(6n);
    expect(fs.readFileSync(path.join(tmp, 'out.txt'), 'utf8')).toBe('hello ');
    expect(m5opWriteFile(physicalAddressSpace(mem), tmp, 0x16n, 5n, 6n, 0x80n)).toBe(5n);
    expect(fs.readFileSync(path.join(tmp, 'out.txt'), 'utf8')).toBe('hello world');
  });

  it('writefile rejects names that leave the output directory, unterminated or empty names, and buffers outside RAM', () => {
    const out = path.join(tmp, 'out');
    fs.mkdirSync(path.join(out, 'sub'), { recursive: true });
    fs.symlinkSync(tmp, path.join(out, 'link'));
    fs.symlinkSync(path.join(tmp, 'target.txt'), path.join(out, 'file-link'));
    expect(m5opOutputPath(out, 'a.txt')).toBe(path.join(fs.realpathSync(out), 'a.txt'));
    expect(m5opOutputPath(out, 'sub/b.txt')).toBe(path.join(fs.realpathSync(out), 'sub', 'b.txt'));
    expect(m5opOutputPath(out, 'sub/../c.txt')).toBe(path.join(fs.realpathSync(out), 'c.txt'));
    const problems: [string, RegExp][] = [
      ['../x.txt', /leaves the output directory/],
      ['sub/../../x.txt', /leaves the output directory/],
      ['.', /leaves the output directory/],
      ['/etc/passwd', /is absolute/],
      ['link/x.txt', /goes through a link out of the output directory/],
      ['missing/x.txt', /directory that does not exist/],
    ];
    for (const [name, why] of problems) expect(m5opOutputPath(out, name)).toMatchObject({ message: expect.stringMatching(why) });

    const mem = ram(0x1000);
    mem.raw.set(Buffer.from('file-link\0'), 0x100);
    expect(m5opWriteFile(physicalAddressSpace(mem), out, 0n, 4n, 0n, 0x100n)).toMatchObject({ message: expect.stringMatching(/is a symbolic link/) });
    expect(fs.existsSync(path.join(tmp, 'target.txt'))).toBe(false);
    mem.raw.fill(0x41, 0x200, 0x400); // 512 bytes with no NUL
    expect(m5opWriteFile(physicalAddressSpace(mem), out, 0n, 4n, 0n, 0x200n)).toMatchObject({ message: expect.stringMatching(/no NUL within 255 bytes/) });
    expect(m5opWriteFile(physicalAddressSpace(mem), out, 0n, 4n, 0n, 0x500n)).toMatchObject({ message: 'writefile: the file name is empty' });
    mem.raw.set(Buffer.from('ok.txt\0'), 0x600);
    expect(m5opWriteFile(physicalAddressSpace(mem), out, 0xffen, 4n, 0n, 0x600n)).toMatchObject({ message: 'writefile: guest buffer 0xffe..0x1001 is outside guest RAM' });
    expect(fs.readdirSync(out).sort()).toEqual(['file-link', 'link', 'sub']);
  });

  it('checks the owner options: readfile must be a readable file, outdir a directory', () => {
    const file = path.join(tmp, 'f');
    fs.writeFileSync(file, 'x');
    expect(() => checkM5opFileOptions('m5ops', { readfile: file, outdir: tmp })).not.toThrow();
    expect(() => checkM5opFileOptions('m5ops', { readfile: path.join(tmp, 'missing') })).toThrow(/m5ops\.readfile: .*cannot be read/);
    expect(() => checkM5opFileOptions('m5ops', { readfile: tmp })).toThrow(/m5ops\.readfile: .* is not a regular file/);
    expect(() => checkM5opFileOptions('m5ops', { outdir: file })).toThrow(/m5ops\.outdir: .* is not a directory/);
    expect(() => checkM5opFileOptions('m5ops', { outdir: path.join(tmp, 'nope') })).toThrow(/m5ops\.outdir: .* does not exist/);
  });
});

describe('guest addresses', () => {
  it('virtual addresses are translated page by page; contiguous pages share a view; unmapped pages are named', () => {
    const mem = ram(0x10000);
    mem.raw.forEach((_, i) => (mem.raw[i] = i >> 12)); // each byte holds its physical page number
    // Virtual pages 0x10–0x13 → physical pages 5, 6, 2, (unmapped).
    const pages = new Map<bigint, bigint>([[0x10n, 5n], [0x11n, 6n], [0x12n, 2n]]);
    const space = virtualAddressSpace(mem, (va) => {
      const pa = pages.get(va >> 12n);
      return pa === undefined ? undefined : (pa << 12n) | (va & 0xfffn);
    });
    const views = space.views('readfile', 0x10ff0n, 0x2010n);
    expect(Array.isArray(views)).toBe(true);
    const list = views as Uint8Array[];
    expect(list.map((v) => [v.byteOffset, v.length])).toEqual([
      [0x5ff0, 0x1010], // pages 5 and 6: one run
      [0x2000, 0x1000],
    ]);
    expect(space.views('readfile', 0x12ff0n, 0x20n)).toMatchObject({ message: 'readfile: guest address 0x13000 (in 0x12ff0..0x1300f) is not mapped by the guest\'s page tables' });
    pages.set(0x13n, 0x20n); // beyond RAM
    expect(space.views('writefile', 0x12ff0n, 0x20n)).toMatchObject({ message: 'writefile: guest buffer 0x12ff0..0x1300f is outside guest RAM' });
    expect(space.views('readfile', 0x10000n, 0n)).toEqual([]);
  });

  it('physical addresses are one bounds-checked view', () => {
    const space = physicalAddressSpace(ram(0x1000));
    expect((space.views('readfile', 0x10n, 0x20n) as Uint8Array[]).map((v) => [v.byteOffset, v.length])).toEqual([[0x10, 0x20]]);
    expect(space.views('readfile', 0xff0n, 0x20n)).toMatchObject({ message: 'readfile: guest buffer 0xff0..0x100f is outside guest RAM' });
    expect(space.views('readfile', 0n, 2n ** 40n)).toMatchObject({ message: expect.stringMatching(/outside guest RAM/) });
  });

  it('readfile and writefile move data across pages that are not contiguous in RAM', () => {
    const file = path.join(tmp, 'in.bin');
    const content = Uint8Array.from({ length: 0x1800 }, (_, i) => (i * 13) & 0xff);
    fs.writeFileSync(file, content);
    const mem = ram(0x10000);
    // Virtual pages 0x20, 0x21 → physical pages 9, 3.
    const pages = new Map<bigint, bigint>([[0x20n, 9n], [0x21n, 3n]]);
    const space = virtualAddressSpace(mem, (va) => {
      const pa = pages.get(va >> 12n);
      return pa === undefined ? undefined : (pa << 12n) | (va & 0xfffn);
    });
    expect(m5opReadFile(space, file, 0x20800n, 0x1000n, 0n)).toBe(0x1000n);
    expect(mem.raw.subarray(0x9800, 0xa000)).toEqual(content.subarray(0, 0x800));
    expect(mem.raw.subarray(0x3000, 0x3800)).toEqual(content.subarray(0x800, 0x1000));
    mem.raw.set(Buffer.from('pages.bin\0'), 0x3900); // virtual 0x21900
    expect(m5opWriteFile(space, tmp, 0x20800n, 0x1000n, 0n, 0x21900n)).toBe(0x1000n);
    expect(new Uint8Array(fs.readFileSync(path.join(tmp, 'pages.bin')))).toEqual(content.subarray(0, 0x1000));
  });
});

describe('writefile file names', () => {
  it('are read across pages that are not contiguous in RAM, and up to the last byte of RAM', () => {
    const mem = ram(0x10000);
    const pages = new Map<bigint, bigint>([[0x30n, 7n], [0x31n, 2n]]);
    const space = virtualAddressSpace(mem, (va) => {
      const pa = pages.get(va >> 12n);
      return pa === undefined ? undefined : (pa << 12n) | (va & 0xfffn);
    });
    mem.raw.set(Buffer.from('span'), 0x7ffc); // virtual 0x30ffc..0x30fff
    mem.raw.set(Buffer.from('.txt\0'), 0x2000); // virtual 0x31000..
    mem.raw.set(Buffer.from('data'), 0x7000); // virtual 0x30000
    expect(m5opWriteFile(space, tmp, 0x30000n, 4n, 0n, 0x30ffcn)).toBe(4n);
    expect(fs.readFileSync(path.join(tmp, 'span.txt'), 'utf8')).toBe('data');
    const small = ram(0x100);
    small.raw.set(Buffer.from('e.txt\0'), 0xfa); // the NUL is RAM's last byte
    expect(m5opWriteFile(physicalAddressSpace(small), tmp, 0n, 2n, 0n, 0xfan)).toBe(2n);
    expect(fs.existsSync(path.join(tmp, 'e.txt'))).toBe(true);
    small.raw.set(Buffer.from('f.txt'), 0xfb); // no room for the NUL
    expect(m5opWriteFile(physicalAddressSpace(small), tmp, 0n, 2n, 0n, 0xfbn)).toMatchObject({ message: expect.stringMatching(/^writefile: file name at 0xfb runs outside guest memory/) });
  });
});

describe('the vCPU-thread calls', () => {
  function cpu() {
    const stops: CpuStop[] = [];
    return { stops, id: 2, requestStop: (s: CpuStop) => stops.push(s), dump: () => 'rip: 0x8000' };
  }

  it('runs readfile and writefile in the thread when their files are configured', () => {
    const file = path.join(tmp, 'in.bin');
    fs.writeFileSync(file, 'abcdefgh');
    const mem = ram(0x1000);
    mem.raw.set(Buffer.from('w.txt\0'), 0x40);
    const c = cpu();
    const calls = new M5opGuestCalls(c, physicalAddressSpace(mem), { readfile: file, outdir: tmp });
    expect(calls.call(0x50, [0x100n, 4n, 2n, 0n, 0n, 0n])).toBe(4n);
    expect(Buffer.from(mem.raw.subarray(0x100, 0x104)).toString()).toBe('cdef');
    expect(calls.call(0x4f, [0x100n, 3n, 0n, 0x40n, 0n, 0n])).toBe(3n);
    expect(fs.readFileSync(path.join(tmp, 'w.txt'), 'utf8')).toBe('cde');
    expect(c.stops).toEqual([]);
  });

  it('stops the vCPU with an m5op stop for every other op (and readfile without a file), reading 0', () => {
    const c = cpu();
    const calls = new M5opGuestCalls(c, physicalAddressSpace(ram(16)), {});
    expect(calls.call(0x43, [5n, 6n, 0n, 0n, 0n, 0n])).toBe(0n);
    expect(calls.call(0x50, [1n, 2n, 3n])).toBe(0n);
    expect(calls.call(0x99, [])).toBe(0n);
    expect(c.stops.map((s) => s.reason === 'm5op' && [s.op, s.func, s.args])).toEqual([
      ['checkpoint', 0x43, [5n, 6n, 0n, 0n, 0n, 0n]],
      ['readfile', 0x50, [1n, 2n, 3n]],
      ['unknown-0x99', 0x99, []],
    ]);
  });

  it('throws a GuestError with the dump for a bad guest argument', () => {
    const c = cpu();
    const calls = new M5opGuestCalls(c, physicalAddressSpace(ram(0x100)), { outdir: tmp });
    const mem = ram(0x100);
    const bad = new M5opGuestCalls(c, physicalAddressSpace(mem), { outdir: tmp });
    mem.raw.set(Buffer.from('../x\0'), 0x10);
    let error: unknown;
    try {
      bad.call(0x4f, [0n, 1n, 0n, 0x10n]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GuestError);
    expect(error).toMatchObject({ kind: 'm5op-bad-argument', vcpuId: 2, dump: 'rip: 0x8000', details: { op: 'writefile', name: '../x' } });
    expect(() => calls.call(0x4f, [0n, 1n, 0n, 0x1000n])).toThrow(/writefile: file name at 0x1000 runs outside guest memory/);
  });
});

describe('statistics and work items', () => {
  it('a dump covers the exits and work since the last reset', () => {
    let counts: ExitCounts[] = [{ IO: 10, MMIO: 1 }, { IO: 3 }];
    let clock = 1000n;
    const stats = new M5opStats(() => counts, () => clock);
    counts = [{ IO: 15, MMIO: 1 }, { IO: 4, HLT: 2 }];
    clock = 1500n;
    stats.workBegin(1n, 0n, 0, 1100n);
    expect(stats.dump('dumpstats', 0)).toEqual({ index: 0, by: 'dumpstats', vcpuId: 0, periodNs: 500n, exits: [{ IO: 5 }, { IO: 1, HLT: 2 }], work: [], openWork: 1, unmatchedWorkEnds: 0 });
    stats.reset();
    counts = [{ IO: 16, MMIO: 3 }, { IO: 4, HLT: 2 }];
    clock = 1700n;
    const item = stats.workEnd(1n, 0n, 1, 1600n);
    expect(item).toEqual({ workId: 1n, threadId: 0n, beginVcpu: 0, endVcpu: 1, beginNs: 1100n, endNs: 1600n, durationNs: 500n });
    expect(stats.workEnd(9n, 9n, 0, 1650n)).toBeUndefined();
    expect(stats.dump('dumpresetstats', 1)).toMatchObject({ index: 1, periodNs: 200n, exits: [{ IO: 1, MMIO: 2 }, {}], work: [item], openWork: 0, unmatchedWorkEnds: 1 });
    expect(stats.workItems).toEqual([item]);
    expect(stats.dumps).toHaveLength(2);
  });
});

describe('the machine-side dispatch', () => {
  const vcpu = { id: 1, call: async <T>() => 'rip: 0x1234' as T };
  const stop = (func: number, args: bigint[]) => m5opStop(func, args) as M5opStop;

  it('exit ends the run with m5-exit; fail with a GuestError carrying the code', async () => {
    const m = new M5ops(() => []);
    expect(await m.dispatch(vcpu, stop(0x21, [77n]))).toEqual({ reason: 'm5-exit', vcpuId: 1, code: 0, delayNs: 77n });
    const failed = await m.dispatch(vcpu, stop(0x22, [0n, 3n]));
    expect(failed).toMatchObject({ reason: 'error', error: { kind: 'm5op-fail', vcpuId: 1, dump: 'rip: 0x1234', details: { code: 3n, delayNs: 0n } } });
    expect((failed as { error: Error }).error).toBeInstanceOf(GuestError);
  });

  it('an op with no handler and no built-in action is reported by name and vCPU', async () => {
    const m = new M5ops(() => []);
    const out = await m.dispatch(vcpu, stop(0x52, []));
    expect(out).toMatchObject({ reason: 'error', error: { kind: 'm5op-unhandled', vcpuId: 1, details: { op: 'switchcpu', func: 0x52 } } });
    expect((out as { error: Error }).error.message).toBe("vCPU 1: m5op switchcpu (0x52) is unhandled: no handler is registered for it (machine.m5ops.handle('switchcpu', …))");
  });

  it('handlers get the arguments by name; void continues, end-run ends, a throw is an error naming the op', async () => {
    const m = new M5ops(() => []);
    const seen: M5opCall[] = [];
    m.handle('checkpoint', (c) => void seen.push(c));
    m.handle('switchcpu', () => 'end-run');
    m.handle('exit', () => undefined);
    m.handle('panic', () => {
      throw new TypeError('boom');
    });
    expect(await m.dispatch(vcpu, stop(0x43, [10n, 20n, 30n]))).toBe('continue');
    expect(seen[0]).toMatchObject({ op: 'checkpoint', func: 0x43, vcpuId: 1, args: { delayNs: 10n, periodNs: 20n }, registers: [10n, 20n, 30n] });
    expect(await m.dispatch(vcpu, stop(0x52, []))).toMatchObject({ reason: 'm5op-end', call: { op: 'switchcpu' } });
    expect(await m.dispatch(vcpu, stop(0x21, [0n]))).toBe('continue'); // a handler replaces exit's default
    const thrown = await m.dispatch(vcpu, stop(0x54, []));
    expect((thrown as { error: Error }).error).toBeInstanceOf(M5opHandlerError);
    expect((thrown as { error: Error }).error.message).toBe('m5op panic on vCPU 1: the handler failed: boom');
    expect(() => m.handle('teleport', () => undefined)).toThrow(ConfigError);
    m.unhandle('checkpoint');
    expect(await m.dispatch(vcpu, stop(0x43, [0n, 0n]))).toMatchObject({ reason: 'error', error: { kind: 'm5op-unhandled' } });
  });

  it('stats and work ops act without a handler, and a handler sees what they produced', async () => {
    let io = 0;
    const m = new M5ops(() => [{ IO: io }]);
    expect(await m.dispatch(vcpu, stop(0x40, [0n, 0n]))).toBe('continue');
    io = 4;
    expect(await m.dispatch(vcpu, stop(0x5a, [3n, 1n]))).toBe('continue');
    const dumps: M5opCall[] = [];
    m.handle('dumpresetstats', (c) => void dumps.push(c));
    expect(await m.dispatch(vcpu, stop(0x5b, [3n, 1n]))).toBe('continue');
    expect(await m.dispatch(vcpu, stop(0x42, [0n, 0n]))).toBe('continue');
    expect(m.workItems.map((w) => [w.workId, w.threadId])).toEqual([[3n, 1n]]);
    expect(dumps[0].statsDump).toMatchObject({ by: 'dumpresetstats', vcpuId: 1, exits: [{ IO: 4 }], work: [m.workItems[0]] });
    expect(m.statsDumps).toEqual([dumps[0].statsDump]);
  });

  it('a stats op with a delay and a period acts on host time, repeatedly, until disposed', async () => {
    jest.useFakeTimers();
    try {
      const m = new M5ops(() => []);
      expect(await m.dispatch(vcpu, stop(0x41, [5_000_000n, 2_000_000n]))).toBe('continue');
      expect(m.statsDumps).toHaveLength(0);
      jest.advanceTimersByTime(5);
      expect(m.statsDumps).toHaveLength(1);
      jest.advanceTimersByTime(4);
      expect(m.statsDumps.map((d) => [d.by, d.vcpuId])).toEqual([['dumpstats', -1], ['dumpstats', -1], ['dumpstats', -1]]);
      m.dispose();
      jest.advanceTimersByTime(100);
      expect(m.statsDumps).toHaveLength(3);
    } finally {
      jest.useRealTimers();
    }
  });
});
