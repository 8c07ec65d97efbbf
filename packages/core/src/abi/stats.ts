/**
 * Reader for KVM binary statistics (the fd returned by KVM_GET_STATS_FD on a VM or vCPU fd).
 * The parser is pure (bytes in, descriptors out); the reader does positional reads
 * (fs.readSync with a position = pread), so it never moves a file offset other code shares.
 * Descriptors never change for the life of an fd, so KvmStatsReader reads them once and
 * afterwards re-reads only the data block into a preallocated buffer.
 */
import * as fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import { KvmError } from '../errors/errors';
import {
  KVM_STATS_BASE_MASK,
  KVM_STATS_TYPE_MASK,
  KVM_STATS_UNIT_MASK,
  KvmStatsDescLayout,
  KvmStatsHeaderLayout,
} from './stats-layout';

export interface KvmStatsHeader {
  readonly flags: number;
  /** Bytes reserved for each descriptor's name, including the terminating NUL. */
  readonly nameSize: number;
  readonly numDesc: number;
  readonly idOffset: number;
  readonly descOffset: number;
  readonly dataOffset: number;
}

export interface KvmStatDescriptor {
  readonly name: string;
  readonly flags: number;
  /** flags & KVM_STATS_TYPE_MASK — compare with KvmStatsType. */
  readonly type: number;
  /** flags & KVM_STATS_UNIT_MASK — compare with KvmStatsUnit. */
  readonly unit: number;
  /** flags & KVM_STATS_BASE_MASK — compare with KvmStatsBase. */
  readonly base: number;
  readonly exponent: number;
  /** Number of u64 items. */
  readonly size: number;
  /** Byte offset of the first item inside the data block. */
  readonly offset: number;
  readonly bucketSize: number;
}

/** A counter is one bigint; a histogram is one bigint per bucket. */
export type KvmStatValue = bigint | bigint[];

const STATS_OP = 'KVM_GET_STATS_FD';

function malformed(detail: string): KvmError {
  return new KvmError(STATS_OP, osConstants.errno.EPROTO, 'EPROTO', `malformed binary stats: ${detail}`);
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decode `struct kvm_stats_header` from the first 24 bytes of the stats fd. */
export function parseStatsHeader(headerBytes: Uint8Array): KvmStatsHeader {
  if (headerBytes.byteLength < KvmStatsHeaderLayout.size) {
    throw malformed(`header is ${headerBytes.byteLength} bytes, need ${KvmStatsHeaderLayout.size}`);
  }
  const v = viewOf(headerBytes);
  const f = KvmStatsHeaderLayout.fields;
  return {
    flags: v.getUint32(f.flags.offset, true),
    nameSize: v.getUint32(f.name_size.offset, true),
    numDesc: v.getUint32(f.num_desc.offset, true),
    idOffset: v.getUint32(f.id_offset.offset, true),
    descOffset: v.getUint32(f.desc_offset.offset, true),
    dataOffset: v.getUint32(f.data_offset.offset, true),
  };
}

/** Bytes one descriptor occupies in the descriptor block. */
export function statsDescriptorStride(header: KvmStatsHeader): number {
  return KvmStatsDescLayout.size + header.nameSize;
}

/** A NUL-terminated (or NUL-padded) ASCII string. */
function cString(bytes: Uint8Array, start: number, max: number): string {
  let end = start;
  const limit = Math.min(start + max, bytes.byteLength);
  while (end < limit && bytes[end] !== 0) end++;
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/**
 * Decode the descriptor block. `headerBytes` is the 24-byte header (it supplies num_desc and
 * name_size); `descBytes` starts at the header's desc_offset.
 */
export function parseStatsDescriptors(headerBytes: Uint8Array, descBytes: Uint8Array): KvmStatDescriptor[] {
  const header = parseStatsHeader(headerBytes);
  const stride = statsDescriptorStride(header);
  if (descBytes.byteLength < header.numDesc * stride) {
    throw malformed(`descriptor block is ${descBytes.byteLength} bytes, need ${header.numDesc} × ${stride}`);
  }
  const v = viewOf(descBytes);
  const f = KvmStatsDescLayout.fields;
  const out: KvmStatDescriptor[] = [];
  for (let i = 0; i < header.numDesc; i++) {
    const at = i * stride;
    const flags = v.getUint32(at + f.flags.offset, true);
    out.push({
      name: cString(descBytes, at + f.name.offset, header.nameSize),
      flags,
      type: flags & KVM_STATS_TYPE_MASK,
      unit: flags & KVM_STATS_UNIT_MASK,
      base: flags & KVM_STATS_BASE_MASK,
      exponent: v.getInt16(at + f.exponent.offset, true),
      size: v.getUint16(at + f.size.offset, true),
      offset: v.getUint32(at + f.offset.offset, true),
      bucketSize: v.getUint32(at + f.bucket_size.offset, true),
    });
  }
  return out;
}

/** Bytes of the data block the descriptors cover. */
export function statsDataSize(descriptors: readonly KvmStatDescriptor[]): number {
  let end = 0;
  for (const d of descriptors) end = Math.max(end, d.offset + d.size * 8);
  return end;
}

/**
 * Decode the data block (starting at data_offset) into `out`, keyed by descriptor name.
 * Histogram arrays already in `out` with the right length are reused.
 */
export function decodeStatsData(
  descriptors: readonly KvmStatDescriptor[],
  dataBytes: Uint8Array,
  out: Map<string, KvmStatValue> = new Map(),
): Map<string, KvmStatValue> {
  const need = statsDataSize(descriptors);
  if (dataBytes.byteLength < need) throw malformed(`data block is ${dataBytes.byteLength} bytes, need ${need}`);
  const v = viewOf(dataBytes);
  for (const d of descriptors) {
    if (d.size === 1) {
      out.set(d.name, v.getBigUint64(d.offset, true));
      continue;
    }
    let arr = out.get(d.name);
    if (!Array.isArray(arr) || arr.length !== d.size) {
      arr = new Array<bigint>(d.size);
      out.set(d.name, arr);
    }
    for (let i = 0; i < d.size; i++) arr[i] = v.getBigUint64(d.offset + i * 8, true);
  }
  return out;
}

/** pread exactly `buf.byteLength` bytes at `position`, or fail. */
function preadFully(fd: number, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.byteLength) {
    let n: number;
    try {
      n = fs.readSync(fd, buf, done, buf.byteLength - done, position + done);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const errno = typeof err.errno === 'number' ? Math.abs(err.errno) : osConstants.errno.EIO;
      throw new KvmError(`${STATS_OP} read`, errno, err.code ?? 'EIO', err.message);
    }
    if (n === 0) throw malformed(`unexpected end of file at ${position + done}`);
    done += n;
  }
}

/** Reads one stats fd; descriptors once at construction, values on every `read()`. */
export class KvmStatsReader {
  readonly header: KvmStatsHeader;
  /** The stats id string, e.g. "kvm-1234/vcpu-0". */
  readonly id: string;
  readonly descriptors: readonly KvmStatDescriptor[];
  private readonly byName = new Map<string, KvmStatDescriptor>();
  private readonly data: Uint8Array;
  private readonly dataView: DataView;

  /** `fd` stays owned by the caller. */
  constructor(private readonly fd: number) {
    if (!Number.isInteger(fd) || fd < 0) {
      throw new KvmError(`${STATS_OP} read`, osConstants.errno.EBADF, 'EBADF', `not a file descriptor: ${fd}`);
    }
    const headerBytes = new Uint8Array(KvmStatsHeaderLayout.size);
    preadFully(fd, headerBytes, 0);
    this.header = parseStatsHeader(headerBytes);
    const idBytes = new Uint8Array(this.header.nameSize);
    preadFully(fd, idBytes, this.header.idOffset);
    this.id = cString(idBytes, 0, idBytes.byteLength);
    const descBytes = new Uint8Array(this.header.numDesc * statsDescriptorStride(this.header));
    preadFully(fd, descBytes, this.header.descOffset);
    this.descriptors = parseStatsDescriptors(headerBytes, descBytes);
    for (const d of this.descriptors) this.byName.set(d.name, d);
    this.data = new Uint8Array(statsDataSize(this.descriptors));
    this.dataView = new DataView(this.data.buffer);
  }

  /** Re-read the whole data block; returns `out` filled with every statistic. */
  read(out: Map<string, KvmStatValue> = new Map()): Map<string, KvmStatValue> {
    preadFully(this.fd, this.data, this.header.dataOffset);
    return decodeStatsData(this.descriptors, this.data, out);
  }

  /** Current value of one counter (first item for a histogram); reads just its 8 bytes. */
  value(name: string): bigint {
    const d = this.byName.get(name);
    if (d === undefined) {
      throw new KvmError(STATS_OP, osConstants.errno.ENOENT, 'ENOENT', `no statistic named '${name}' in ${this.id}`);
    }
    const slice = this.data.subarray(d.offset, d.offset + 8);
    preadFully(this.fd, slice, this.header.dataOffset + d.offset);
    return this.dataView.getBigUint64(d.offset, true);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }
}

/** One-shot: every statistic of a stats fd (the fd stays open, owned by the caller). */
export function readStats(fd: number): Map<string, KvmStatValue> {
  return new KvmStatsReader(fd).read();
}
