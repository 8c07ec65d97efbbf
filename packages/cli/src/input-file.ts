import * as fs from 'node:fs';
import { ConfigError } from '@kvmts/core';

/**
 * Reads a file the user named (a kernel, an initrd): only a regular file, its size checked
 * against `limitBytes` before a byte is read — a FIFO, a device node such as /dev/zero, a
 * directory or an oversized file is a ConfigError naming the option, the path and the limit,
 * never an unbounded read or a hang.
 */
export function readInputFile(option: string, file: string, limitBytes: number): Uint8Array {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new ConfigError(option, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!st.isFile()) throw new ConfigError(option, `${file} is not a regular file (a ${kindOf(st)})`);
  if (st.size > limitBytes) throw new ConfigError(option, `${file} is ${st.size} bytes; the limit is ${limitBytes}`);
  if (st.size === 0) throw new ConfigError(option, `${file} is empty`);
  return new Uint8Array(fs.readFileSync(file));
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'FIFO';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  if (st.isSocket()) return 'socket';
  return 'special file';
}
