/**
 * The first check every device plugin makes of its options: an object (or nothing, meaning all
 * defaults) whose keys the plugin knows — so a typo is a ConfigError naming the key rather than a
 * silently ignored setting, and `null` or a number is refused before any field is read.
 */
import { ConfigError } from '../errors/errors';
import { describeValue } from '../errors/describe-value';

export function checkDeviceOptions<T extends object>(prefix: string, options: T | undefined, known: readonly string[]): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError(prefix, `options must be an object, got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new ConfigError(`${prefix}.${key}`, `unknown option (known: ${known.length ? known.join(', ') : 'none'})`);
  }
  return options;
}
