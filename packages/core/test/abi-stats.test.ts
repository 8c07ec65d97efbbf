/**
 * KVM binary stats (KVM_GET_STATS_FD format): the pure parser against golden bytes written
 * by hand, and the pread-based reader against a real file holding the same bytes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  KvmStatsBase,
  KvmStatsReader,
  KvmStatsType,
  KvmStatsUnit,
  decodeStatsData,
  parseStatsDescriptors,
  parseStatsHeader,
  readStats,
  statsDataSize,
} from '../src/abi';
import { KvmError } from '../src/errors/errors';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// flags    name_size num_desc id_off   desc_off data_off (= 40 + 3 × (16 + 16))
const HEADER = '00000000 10000000 03000000 18000000 28000000 88000000';
// "kvm-42/vcpu-0", NUL-padded to name_size (16)
const ID = '6b766d2d34322f766370752d30 000000';
// flags    exp  size offset   bucket   name (16 bytes)
const DESC_EXITS = '00000000 0000 0100 00000000 00000000' + '6578697473' + '00'.repeat(11); // cumulative
const DESC_HIST = '24000000 f7ff 0400 08000000 00000000' + '68616c745f776169745f68697374' + '0000'; // log hist, seconds, 10^-9
const DESC_MODE = '41000000 0000 0100 28000000 00000000' + '67756573745f6d6f6465' + '00'.repeat(6); // instant boolean
const DATA =
  '3412000000000000' + // exits = 0x1234
  '0100000000000000 0200000000000000 0300000000000000 0100000000000080' + // halt_wait_hist[4]
  '0100000000000000'; // guest_mode = 1
const FILE = hex(HEADER + ID + DESC_EXITS + DESC_HIST + DESC_MODE + DATA);
const DESC_BYTES = FILE.subarray(40, 136);

describe('binary stats parser (golden bytes)', () => {
  it('decodes the header', () => {
    expect(parseStatsHeader(FILE.subarray(0, 24))).toEqual({
      flags: 0, nameSize: 16, numDesc: 3, idOffset: 24, descOffset: 40, dataOffset: 136,
    });
  });

  it('decodes descriptors with type, unit, base, signed exponent and name', () => {
    const d = parseStatsDescriptors(FILE.subarray(0, 24), DESC_BYTES);
    expect(d).toEqual([
      { name: 'exits', flags: 0, type: KvmStatsType.CUMULATIVE, unit: KvmStatsUnit.NONE, base: KvmStatsBase.POW10, exponent: 0, size: 1, offset: 0, bucketSize: 0 },
      { name: 'halt_wait_hist', flags: 0x24, type: KvmStatsType.LOG_HIST, unit: KvmStatsUnit.SECONDS, base: KvmStatsBase.POW10, exponent: -9, size: 4, offset: 8, bucketSize: 0 },
      { name: 'guest_mode', flags: 0x41, type: KvmStatsType.INSTANT, unit: KvmStatsUnit.BOOLEAN, base: KvmStatsBase.POW10, exponent: 0, size: 1, offset: 40, bucketSize: 0 },
    ]);
    expect(statsDataSize(d)).toBe(48);
  });

  it('decodes counters as bigint and histograms as bigint[]', () => {
    const d = parseStatsDescriptors(FILE.subarray(0, 24), DESC_BYTES);
    const m = decodeStatsData(d, FILE.subarray(136));
    expect(m).toEqual(new Map<string, bigint | bigint[]>([
      ['exits', 0x1234n],
      ['halt_wait_hist', [1n, 2n, 3n, 0x8000000000000001n]],
      ['guest_mode', 1n],
    ]));
  });

  it('reuses a histogram array already in the output map', () => {
    const d = parseStatsDescriptors(FILE.subarray(0, 24), DESC_BYTES);
    const out = decodeStatsData(d, FILE.subarray(136));
    const hist = out.get('halt_wait_hist');
    expect(decodeStatsData(d, FILE.subarray(136), out).get('halt_wait_hist')).toBe(hist);
  });

  it('rejects a truncated descriptor block or data block with a KvmError', () => {
    expect(() => parseStatsDescriptors(FILE.subarray(0, 24), DESC_BYTES.subarray(0, 95))).toThrow(KvmError);
    const d = parseStatsDescriptors(FILE.subarray(0, 24), DESC_BYTES);
    expect(() => decodeStatsData(d, FILE.subarray(136, 183))).toThrow(/data block is 47 bytes, need 48/);
    expect(() => parseStatsHeader(FILE.subarray(0, 23))).toThrow(KvmError);
  });
});

describe('binary stats reader (pread on a real file)', () => {
  let dir: string;
  let file: string;
  let fd: number;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-stats-'));
    file = path.join(dir, 'stats');
    fs.writeFileSync(file, FILE);
    fd = fs.openSync(file, 'r+');
  });
  afterEach(() => {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('readStats returns every statistic by name', () => {
    const m = readStats(fd);
    expect(m.get('exits')).toBe(0x1234n);
    expect(m.get('halt_wait_hist')).toEqual([1n, 2n, 3n, 0x8000000000000001n]);
    expect(m.get('guest_mode')).toBe(1n);
    expect(m.size).toBe(3);
  });

  it('KvmStatsReader reads the id once and fresh values on every read', () => {
    const r = new KvmStatsReader(fd);
    expect(r.id).toBe('kvm-42/vcpu-0');
    expect(r.has('exits')).toBe(true);
    expect(r.value('exits')).toBe(0x1234n);
    fs.writeSync(fd, hex('9999000000000000'), 0, 8, 136); // the kernel updates counters in place
    expect(r.value('exits')).toBe(0x9999n);
    expect(r.read().get('exits')).toBe(0x9999n);
  });

  it('names an unknown statistic in a KvmError', () => {
    const r = new KvmStatsReader(fd);
    expect(() => r.value('no_such_stat')).toThrow(/no statistic named 'no_such_stat' in kvm-42\/vcpu-0/);
  });

  it('fails with a KvmError when the file ends early', () => {
    fs.ftruncateSync(fd, 150);
    expect(() => readStats(fd)).toThrow(KvmError);
  });

  it.each([
    ['a negative fd', () => -1],
    ['a closed fd', () => {
      const closed = fs.openSync(file, 'r');
      fs.closeSync(closed);
      return closed;
    }],
  ])('reports %s as a KvmError carrying EBADF', (_what, badFd) => {
    let err: unknown;
    try {
      readStats(badFd());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KvmError);
    expect((err as KvmError).code).toBe('EBADF');
  });
});
