/**
 * A flattened devicetree (DTB) writer: header, memory reservation block, structure block and
 * strings block, per the Devicetree Specification v0.4 §5. Written by hand — a pure function
 * of the tree, tested against golden bytes — because no maintained npm package writes DTBs
 * (the ones that exist only parse them).
 *
 * Everything that goes in is checked (ConfigError naming the node or property): names in the
 * spec's character sets (§2.2.1, §2.2.4: a NUL or '/' in a name would corrupt the tree), cells
 * that fit 32 or 64 bits, strings without NUL or unpaired surrogates. Before these checks,
 * `npm run fuzz -- fdt` found values silently wrapped (u32(-1), u64(2^64)), names that read
 * back differently, and TypeErrors and RangeErrors from junk values.
 */
import { ConfigError, describeValue } from '@kvmts/core';

export interface FdtProperty {
  readonly name: string;
  /** Encoded value (big-endian cells, NUL-terminated strings …): build it with `fdtProp`. */
  readonly value: Uint8Array;
}

export interface FdtNode {
  /** Node name with unit address, e.g. 'memory@40000000'; '' for the root. */
  readonly name: string;
  readonly properties?: readonly FdtProperty[];
  readonly children?: readonly FdtNode[];
}

export interface FdtReservation {
  readonly address: number;
  readonly size: number;
}

const FDT_MAGIC = 0xd00dfeed;
const FDT_VERSION = 17;
const FDT_LAST_COMPATIBLE_VERSION = 16;
const HEADER_BYTES = 40;
const Token = { BEGIN_NODE: 1, END_NODE: 2, PROP: 3, END: 9 } as const;

const encoder = new TextEncoder();

/** Node names: node-name[@unit-address], each from the spec's characters; 1–31 for the name part. */
const NODE_NAME = /^[0-9a-zA-Z,._+-]{1,31}(@[0-9a-zA-Z,._+-]+)?$/;
/** Property names: 1–31 of the spec's characters. */
const PROPERTY_NAME = /^[0-9a-zA-Z,._+?#-]{1,31}$/;
/** An unpaired UTF-16 surrogate: not encodable as UTF-8, so it would read back as U+FFFD. */
const LONE_SURROGATE = /\p{Cs}/u;

function checkU32(where: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new ConfigError(where, `must be a 32-bit cell (an integer 0..0xffffffff), got ${describeValue(value)}`);
  return value;
}

function checkU64(where: string, value: unknown): bigint {
  const ok = (typeof value === 'number' && Number.isInteger(value)) || typeof value === 'bigint';
  const b = ok ? BigInt(value as number | bigint) : -1n;
  if (b < 0n || b >= 1n << 64n) throw new ConfigError(where, `must be a 64-bit value (an integer 0..2^64-1), got ${describeValue(value)}`);
  return b;
}

function checkString(where: string, value: unknown): string {
  if (typeof value !== 'string' || value.includes('\0') || LONE_SURROGATE.test(value)) throw new ConfigError(where, `must be a string without NUL or unpaired surrogates, got ${describeValue(value)}`);
  return value;
}

function cells(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const v = new DataView(out.buffer);
  values.forEach((c, i) => v.setUint32(4 * i, c >>> 0));
  return out;
}

function strings(values: readonly string[]): Uint8Array {
  return encoder.encode(values.map((s) => `${s}\0`).join(''));
}

/** Property builders: the value encodings the Devicetree Specification defines (§2.2.4). */
export const fdtProp = {
  /** A property without a value (a boolean: present means true). */
  empty: (name: string): FdtProperty => ({ name, value: new Uint8Array(0) }),
  /** One or more 32-bit cells. */
  u32: (name: string, ...values: number[]): FdtProperty => ({ name, value: cells(values.map((x, i) => checkU32(`fdt property ${name}[${i}]`, x))) }),
  /** One or more 64-bit values, two cells each (addresses and sizes with #address-cells = 2). */
  u64: (name: string, ...values: (number | bigint)[]): FdtProperty => ({
    name,
    value: cells(values.flatMap((x, i) => {
      const b = checkU64(`fdt property ${name}[${i}]`, x);
      return [Number(b >> 32n), Number(b & 0xffff_ffffn)];
    })),
  }),
  string: (name: string, value: string): FdtProperty => ({ name, value: strings([checkString(`fdt property ${name}`, value)]) }),
  /** A string list (e.g. compatible = "arm,pl011", "arm,primecell"). */
  strings: (name: string, ...values: string[]): FdtProperty => ({ name, value: strings(values.map((v, i) => checkString(`fdt property ${name}[${i}]`, v))) }),
} as const;

/** Grows as the structure block is written (a DTB is small; this avoids sizing it twice). */
class ByteWriter {
  private bytes = new Uint8Array(1024);
  length = 0;

  private ensure(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  u32(value: number): void {
    this.ensure(4);
    new DataView(this.bytes.buffer).setUint32(this.length, value >>> 0);
    this.length += 4;
  }

  /** `data`, then zero padding to a 4-byte boundary. */
  padded(data: Uint8Array): void {
    const n = Math.ceil(data.length / 4) * 4;
    this.ensure(n);
    this.bytes.set(data, this.length);
    this.bytes.fill(0, this.length + data.length, this.length + n);
    this.length += n;
  }

  result(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

/** The DTB of `root`. Property names are stored once each in the strings block, in first-use order. */
export function buildFdt(root: FdtNode, options: { bootCpuId?: number; reservations?: readonly FdtReservation[] } = {}): Uint8Array {
  const struct = new ByteWriter();
  const names = new Map<string, number>();
  let stringsBytes = 0;
  const nameOffset = (name: string): number => {
    let offset = names.get(name);
    if (offset === undefined) {
      offset = stringsBytes;
      names.set(name, offset);
      stringsBytes += encoder.encode(name).length + 1;
    }
    return offset;
  };
  const writeNode = (node: FdtNode, path: string): void => {
    const where = `fdt node ${path || '/'}`;
    if (typeof node !== 'object' || node === null) throw new ConfigError(where, `must be an FdtNode, got ${describeValue(node)}`);
    if (path === '' ? node.name !== '' : typeof node.name !== 'string' || !NODE_NAME.test(node.name)) {
      throw new ConfigError(where, path === '' ? `the root node's name must be '', got ${describeValue(node.name)}` : `name ${describeValue(node.name)} is not node-name[@unit-address] in the characters 0-9 a-z A-Z , . _ + -`);
    }
    const properties = node.properties ?? [];
    const children = node.children ?? [];
    if (!Array.isArray(properties) || !Array.isArray(children)) throw new ConfigError(where, 'properties and children must be arrays');
    struct.u32(Token.BEGIN_NODE);
    struct.padded(encoder.encode(`${node.name}\0`));
    for (const p of properties as readonly FdtProperty[]) {
      if (typeof p !== 'object' || p === null || typeof p.name !== 'string' || !PROPERTY_NAME.test(p.name)) {
        throw new ConfigError(where, `property name ${describeValue(p?.name)} is not 1–31 of the characters 0-9 a-z A-Z , . _ + ? # -`);
      }
      if (!(p.value instanceof Uint8Array)) throw new ConfigError(`${where} property ${p.name}`, `value must be a Uint8Array (build it with fdtProp), got ${describeValue(p.value)}`);
      struct.u32(Token.PROP);
      struct.u32(p.value.length);
      struct.u32(nameOffset(p.name));
      struct.padded(p.value);
    }
    for (const child of children as readonly FdtNode[]) writeNode(child, `${path}/${child?.name}`);
    struct.u32(Token.END_NODE);
  };
  writeNode(root, '');
  struct.u32(Token.END);
  const structBlock = struct.result();
  const stringsBlock = strings([...names.keys()]);

  const reservations = options.reservations ?? [];
  if (!Array.isArray(reservations) || reservations.some((r) => typeof r !== 'object' || r === null)) throw new ConfigError('fdt reservations', 'must be an array of { address, size }');
  const rsvOffset = HEADER_BYTES; // already 8-byte aligned
  const rsvBytes = 16 * (reservations.length + 1); // terminated by an all-zero entry
  const structOffset = rsvOffset + rsvBytes;
  const stringsOffset = structOffset + structBlock.length;
  const total = stringsOffset + stringsBlock.length;

  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  const bootCpuId = checkU32('fdt bootCpuId', options.bootCpuId ?? 0);
  const header = [FDT_MAGIC, total, structOffset, stringsOffset, rsvOffset, FDT_VERSION, FDT_LAST_COMPATIBLE_VERSION, bootCpuId, stringsBlock.length, structBlock.length];
  header.forEach((word, i) => v.setUint32(4 * i, word));
  reservations.forEach((r, i) => {
    v.setBigUint64(rsvOffset + 16 * i, checkU64(`fdt reservations[${i}].address`, r.address));
    v.setBigUint64(rsvOffset + 16 * i + 8, checkU64(`fdt reservations[${i}].size`, r.size));
  });
  out.set(structBlock, structOffset);
  out.set(stringsBlock, stringsOffset);
  return out;
}
