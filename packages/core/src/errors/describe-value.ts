/**
 * A user-supplied value as text for an error message. Error paths meet whatever a config held:
 * `String(v)` throws on a Symbol, on an object whose own `toString` is not a function, on
 * `Object.create(null)`, and prints a 300 KiB string whole. This never throws and stays short.
 */
const MAX_CHARS = 60;

function clip(s: string): string {
  return s.length > MAX_CHARS ? `${s.slice(0, MAX_CHARS)}… (${s.length} characters)` : s;
}

export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(clip(value));
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${clip(value.toString())}n`;
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'symbol':
      return `a symbol (${clip(value.description ?? '')})`;
    case 'function':
      return 'a function';
    default:
      if (value === null) return 'null';
      if (Array.isArray(value)) return `an array of ${value.length}`;
      if (value instanceof Uint8Array) return `a Uint8Array of ${value.length} bytes`;
      return 'an object';
  }
}
