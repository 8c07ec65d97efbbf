/**
 * How checkpoint sections and the manifest's config are encoded: JSON, plus the two kinds of
 * value kvmts state holds that JSON lacks — `bigint` as `{"$bigint":"0x…"}` and `Uint8Array` as
 * `{"$bytes":"<base64>"}`. JSON keeps a section readable with any tool and independent of the
 * V8 version (v8.serialize's format is not promised stable across Node releases).
 *
 * Only plain data is accepted: anything else (a function, a Map, a class instance, another
 * typed array, `undefined` in an array, a key starting with `$`) makes encoding fail with a
 * `not-saveable` CheckpointError naming where it sits, instead of being silently dropped.
 */
import { CheckpointError } from '../errors/errors';

const BIGINT = '$bigint';
const BYTES = '$bytes';

/*
 * Both checks work across realms: state arrives from vCPU threads by structured clone, and test
 * runners (jest) load modules in a context whose Object.prototype and Uint8Array are not the ones
 * postMessage builds objects with, so `instanceof` and prototype identity would reject them.
 */
function isUint8Array(value: object): value is Uint8Array {
  return ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === '[object Uint8Array]';
}

/** An object literal of any realm: its prototype is null or some realm's Object.prototype. */
function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto === null || Object.getPrototypeOf(proto) === null;
}

/** A JSON value with bigint and bytes tagged, ready for JSON.stringify. */
export function toTagged(value: unknown, where: string): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new CheckpointError(where, `${value} is not a finite number: JSON cannot hold it`, { code: 'not-saveable' });
      return value;
    case 'bigint':
      return { [BIGINT]: `${value < 0n ? '-' : ''}0x${(value < 0n ? -value : value).toString(16)}` };
    case 'object':
      if (value === null) return null;
      if (isUint8Array(value)) return { [BYTES]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
      if (Array.isArray(value)) return value.map((v, i) => toTagged(v, `${where}[${i}]`));
      if (!isPlainObject(value)) {
        throw new CheckpointError(where, `a ${(value as object).constructor?.name ?? 'non-plain object'} is not plain data (objects, arrays, numbers, strings, booleans, null, bigint, Uint8Array)`, { code: 'not-saveable' });
      }
      return Object.fromEntries(
        Object.entries(value)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => {
            if (k.startsWith('$')) throw new CheckpointError(`${where}.${k}`, "keys starting with '$' are reserved for tagged values", { code: 'not-saveable' });
            return [k, toTagged(v, `${where}.${k}`)];
          }),
      );
    default:
      throw new CheckpointError(where, `a ${typeof value} is not plain data`, { code: 'not-saveable' });
  }
}

/** The inverse of toTagged. A malformed tag is a `corrupt` CheckpointError naming where. */
export function fromTagged(value: unknown, where: string): unknown {
  if (Array.isArray(value)) return value.map((v, i) => fromTagged(v, `${where}[${i}]`));
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value);
  if (entries.length === 1 && entries[0][0] === BIGINT) {
    const m = /^(-?)0x([0-9a-f]+)$/.exec(String(entries[0][1]));
    if (!m) throw new CheckpointError(where, `bad ${BIGINT} value ${JSON.stringify(entries[0][1])}`, { code: 'corrupt' });
    const n = BigInt(`0x${m[2]}`);
    return m[1] ? -n : n;
  }
  if (entries.length === 1 && entries[0][0] === BYTES) {
    const text = entries[0][1];
    if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new CheckpointError(where, `bad ${BYTES} value`, { code: 'corrupt' });
    return new Uint8Array(Buffer.from(text, 'base64'));
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, fromTagged(v, `${where}.${k}`)]));
}

/** Plain data → UTF-8 JSON bytes (one section: a line of sections.jsonl). */
export function encodeSection(value: unknown, where: string): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify(toTagged(value, where))));
}

/** UTF-8 JSON bytes → plain data. Bytes that are not JSON are a `corrupt` CheckpointError. */
export function decodeSection(bytes: Uint8Array, where: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw new CheckpointError(where, `is not valid JSON (${(e as Error).message})`, { code: 'corrupt', cause: e });
  }
  return fromTagged(parsed, where);
}
