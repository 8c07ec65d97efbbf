import { ConfigError } from '../errors/errors';

/**
 * The architectural state of one hardware thread, owned by whichever CPU model runs it.
 * Arch packages define the concrete shape (X86ThreadContext, …). Checkpoints and CPU switching
 * go through it, so a simulated CPU written by anyone can take over from KVM and back.
 */
export interface ThreadContext {
  /** Architecture name, e.g. 'x86_64'. A context only moves between CPUs of the same arch. */
  readonly arch: string;
  /** Plain, structured-cloneable copy of the state (bigints allowed). */
  toJSON(): unknown;
}

/**
 * Check that `data` (a ThreadContext's plain-data form, e.g. after postMessage or from a file)
 * has exactly the shape of `template`: the same keys at every level, the same primitive type at
 * every leaf (bigint stays bigint), arrays of the same length. Throws ConfigError naming the
 * first path that differs. Arch plugins call it in `threadContextFromData`.
 */
export function assertSameShape(template: unknown, data: unknown, where: string): void {
  if (typeof template !== 'object' || template === null) {
    if (typeof data !== typeof template) throw new ConfigError(where, `expected a ${typeof template}, got ${describe(data)}`);
    return;
  }
  if (typeof data !== 'object' || data === null) throw new ConfigError(where, `expected an object, got ${describe(data)}`);
  if (Array.isArray(template)) {
    if (!Array.isArray(data) || data.length !== template.length) throw new ConfigError(where, `expected an array of ${template.length}, got ${describe(data)}`);
    template.forEach((t, i) => assertSameShape(t, data[i], `${where}[${i}]`));
    return;
  }
  const t = template as Record<string, unknown>;
  const d = data as Record<string, unknown>;
  for (const key of Object.keys(t)) {
    if (!(key in d)) throw new ConfigError(`${where}.${key}`, 'missing');
    assertSameShape(t[key], d[key], `${where}.${key}`);
  }
  for (const key of Object.keys(d)) {
    if (!(key in t)) throw new ConfigError(`${where}.${key}`, 'unknown field');
  }
}

/**
 * assertSameShape and a copy in one walk: `data` checked against `template` exactly as
 * assertSameShape does (same errors), and returned as a deep copy that shares nothing with it.
 * What threadContextFromData needs on the restore path, without a structuredClone per group
 * (structuredClone's fixed cost per call is most of a small group's).
 */
export function copySameShape<T>(template: T, data: unknown, where: string): T {
  // The path is built only for an error message: a string per node would cost more than the copy.
  const path: (string | number)[] = [];
  const at = (): string => where + path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
  const walk = (t: unknown, d: unknown): unknown => {
    if (typeof t !== 'object' || t === null) {
      if (typeof d !== typeof t) throw new ConfigError(at(), `expected a ${typeof t}, got ${describe(d)}`);
      return d;
    }
    if (typeof d !== 'object' || d === null) throw new ConfigError(at(), `expected an object, got ${describe(d)}`);
    if (Array.isArray(t)) {
      if (!Array.isArray(d) || d.length !== t.length) throw new ConfigError(at(), `expected an array of ${t.length}, got ${describe(d)}`);
      const out = new Array<unknown>(t.length);
      for (let i = 0; i < t.length; i++) {
        path.push(i);
        out[i] = walk(t[i], d[i]);
        path.pop();
      }
      return out;
    }
    const tr = t as Record<string, unknown>;
    const dr = d as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(tr)) {
      path.push(key);
      if (!(key in dr)) throw new ConfigError(at(), 'missing');
      out[key] = walk(tr[key], dr[key]);
      path.pop();
    }
    for (const key of Object.keys(dr)) {
      if (!(key in tr)) {
        path.push(key);
        throw new ConfigError(at(), 'unknown field');
      }
    }
    return out;
  };
  return walk(template, data) as T;
}

/**
 * A deep copy of plain data — objects, arrays, primitives (bigint included) and typed arrays —
 * sharing nothing with `value`: structuredClone's result for such data, several times faster on
 * small graphs. Anything else (a Map, a Date, a class instance) goes to structuredClone.
 */
export function copyPlainData<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copyPlainData(value[i]);
    return out as T;
  }
  // %TypedArray%.prototype.slice copies for every kind (a Node Buffer's own slice() would share its memory).
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Uint8Array.prototype.slice.call(value as unknown as Uint8Array) as T;
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto !== null && Object.getPrototypeOf(proto) !== null) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = copyPlainData((value as Record<string, unknown>)[key]);
  return out as T;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return v === null ? 'null' : typeof v;
}
