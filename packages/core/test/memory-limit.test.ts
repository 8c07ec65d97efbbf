/**
 * The guest-memory bound (machine/memory-limit.ts): golden values per overcommit mode, the
 * override order (config, then KVMTS_MEMORY_LIMIT, then the host), and a 1 TiB request refused
 * by createMachine before /dev/kvm is opened (this host tier has none, so reaching the kernel
 * would be a KvmUnavailableError instead).
 */
import { ConfigError, MEMORY_LIMIT_ENV, checkGuestMemorySize, createMachine, guestMemoryLimit, hostMemoryLimit, parseHostMemoryInfo, parseSize, readHostMemoryInfo } from '@kvmts/core';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const MEMINFO = ['MemTotal:       24683548 kB', 'MemFree:        18651372 kB', 'MemAvailable:    8388608 kB', 'SwapTotal:       2097152 kB', 'SwapFree:        1048576 kB', 'CommitLimit:    14438924 kB', 'Committed_AS:   13390348 kB', 'HugePages_Total:       0', ''].join('\n');

describe('host memory figures', () => {
  it('parses /proc/meminfo in kB and the overcommit mode', () => {
    expect(parseHostMemoryInfo(MEMINFO, '0\n')).toEqual({ memAvailable: 8 * GiB, swapFree: GiB, commitLimit: 14438924 * 1024, committedAs: 13390348 * 1024, overcommit: 0 });
  });

  it('is undefined when a field is missing or the mode is not a number', () => {
    expect(parseHostMemoryInfo('MemAvailable: 1 kB\n', '0')).toBeUndefined();
    expect(parseHostMemoryInfo(MEMINFO, 'x')).toBeUndefined();
  });

  it('reads this host', () => {
    const info = readHostMemoryInfo();
    expect(info).toBeDefined();
    expect(info!.memAvailable).toBeGreaterThan(0);
    expect([0, 1, 2]).toContain(info!.overcommit);
  });
});

describe('hostMemoryLimit', () => {
  it.each([0, 1])('overcommit %i: MemAvailable + SwapFree', (mode) => {
    const limit = hostMemoryLimit(parseHostMemoryInfo(MEMINFO, String(mode))!);
    expect(limit.bytes).toBe(9 * GiB);
    expect(limit.source).toBe(`what the host can back (overcommit_memory ${mode}: MemAvailable 8192 MiB + SwapFree 1024 MiB)`);
  });

  it('overcommit 2: the commit headroom when it is smaller', () => {
    const limit = hostMemoryLimit(parseHostMemoryInfo(MEMINFO, '2')!);
    expect(limit.bytes).toBe((14438924 - 13390348) * 1024); // 1 GiB
    expect(limit.source).toBe("the host's commit limit (overcommit_memory 2: CommitLimit 14100 MiB − Committed_AS 13076 MiB)");
  });

  it('overcommit 2 with more headroom than memory: what the host can back', () => {
    const info = { ...parseHostMemoryInfo(MEMINFO, '2')!, committedAs: 0 };
    expect(hostMemoryLimit(info).bytes).toBe(9 * GiB);
  });
});

describe('guestMemoryLimit', () => {
  const host = () => parseHostMemoryInfo(MEMINFO, '0');

  it('the config wins over the environment, which wins over the host', () => {
    expect(guestMemoryLimit('2G', { [MEMORY_LIMIT_ENV]: '3G' }, host)).toEqual({ bytes: 2 * GiB, source: 'memoryLimit ("2G")' });
    expect(guestMemoryLimit(undefined, { [MEMORY_LIMIT_ENV]: '3G' }, host)).toEqual({ bytes: 3 * GiB, source: `${MEMORY_LIMIT_ENV} ("3G")` });
    expect(guestMemoryLimit(undefined, {}, host).bytes).toBe(9 * GiB);
    expect(guestMemoryLimit('unlimited', {}, host).bytes).toBe(Infinity);
    expect(guestMemoryLimit(undefined, {}, () => undefined)).toEqual({ bytes: Infinity, source: '/proc/meminfo is not readable' });
  });

  it('a malformed override is a ConfigError naming where it was set', () => {
    expect(() => guestMemoryLimit('lots', {}, host)).toThrow(new ConfigError('memoryLimit', '"lots" is not a size (bytes, a string like \'64G\', or \'unlimited\')'));
    expect(() => guestMemoryLimit(undefined, { [MEMORY_LIMIT_ENV]: '-1' }, host)).toThrow(/^KVMTS_MEMORY_LIMIT: "-1" is not a size/);
  });

  it('sizes take a T suffix', () => {
    expect(parseSize('1T')).toBe(1024 * GiB);
  });
});

describe('checkGuestMemorySize', () => {
  it('passes a request at the bound and refuses one above it, naming both', () => {
    const limit = { bytes: 512 * MiB, source: 'memoryLimit ("512M")' };
    expect(() => checkGuestMemorySize(512 * MiB, limit)).not.toThrow();
    expect(() => checkGuestMemorySize(512 * MiB + 4096, limit)).toThrow(
      new ConfigError('memory', `${512 * MiB + 4096} bytes (512 MiB) of guest memory requested; the bound is ${512 * MiB} bytes (512 MiB), memoryLimit ("512M"). Ask for less, or set memoryLimit (or KVMTS_MEMORY_LIMIT) to a size or 'unlimited'`),
    );
  });
});

describe('createMachine with more memory than the bound', () => {
  it('a 1 TiB request is a ConfigError naming the request and the bound, before /dev/kvm is opened', async () => {
    const e = await createMachine({ arch: 'x86_64', memory: '1T', memoryLimit: '16G' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    // x86 lays 1 TiB out as RAM below the 3 GiB hole and the rest above 4 GiB: still 1 TiB in all.
    expect((e as ConfigError).message).toMatch(/^memory: 1099511627776 bytes \(1048576 MiB\) of guest memory requested; the bound is 17179869184 bytes \(16384 MiB\), memoryLimit \("16G"\)/);
  });

  it('without an override the bound is the host-derived one', async () => {
    const e = await createMachine({ arch: 'x86_64', memory: 2 ** 40 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).message).toMatch(/the bound is \d+ bytes \(\d+ MiB\), (what the host can back|the host's commit limit) \(overcommit_memory \d/);
  });

  it('explicit regions count too, and a malformed limit is named', async () => {
    await expect(createMachine({ arch: 'x86_64', memory: [{ name: 'a', guestPhysAddr: 0, size: 2 * GiB }, { name: 'b', guestPhysAddr: 4 * GiB, size: 2 * GiB }], memoryLimit: '3G' })).rejects.toThrow(/^memory: 4294967296 bytes/);
    await expect(createMachine({ arch: 'x86_64', memory: '8M', memoryLimit: 'big' })).rejects.toThrow(/^memoryLimit: "big" is not a size/);
  });
});
