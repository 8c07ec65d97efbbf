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

function describe(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return v === null ? 'null' : typeof v;
}
