/**
 * A boot input (a kernel, an initrd) that stays in its file until a loader places it in guest
 * RAM, and is then read straight there: no buffer of the whole file in between, and no copy of
 * it. For Debian's arm64 Image that is 31 MiB less to allocate, fill and copy while kvmts starts,
 * and 31 MiB less resident (scripts/bench/README.md, `boot`).
 *
 * A BootFile is checked as readInputFile checks a file (regular, within a limit, not empty)
 * when it is opened, which also reads its first bytes for the loaders' header checks (an arm64
 * Image's 64-byte header, a raw binary's absence of one). No file descriptor is held: placing it
 * opens the file again and refuses, by name, one that is no longer the file opened (another
 * size, mtime or inode) — a loader never puts into RAM bytes it did not plan for.
 *
 * Loaders that need the whole image in memory (x86's bzImage parser) get plain bytes instead:
 * bootBytes() reads them (core's linuxBootProfile does that for plugins without linuxBootFromFiles).
 */
import * as fs from 'node:fs';
import { ConfigError } from '../errors/errors';
import { openBoundedFile, readOpenFileInto, readOpenFileIntoAsync } from './bounded-file';

/** How many leading bytes a BootFile carries: every header a kvmts loader reads (arm64's is 64). */
export const BOOT_FILE_HEAD_BYTES = 4096;

export interface BootFile {
  readonly kind: 'boot-file';
  /** The setting that named it (`--kernel`, `boot.image`): errors name it. */
  readonly setting: string;
  readonly path: string;
  /** The file's size when it was opened: what is placed. */
  readonly length: number;
  /** Its first min(length, BOOT_FILE_HEAD_BYTES) bytes. */
  readonly head: Uint8Array;
  /** Which file it was (fstat when opened): a different one at placing time is refused. */
  readonly identity: { readonly dev: number; readonly ino: number; readonly mtimeMs: number };
}

/** Boot input as a loader takes it: bytes in memory, or a file read straight into place. */
export type BootBytes = Uint8Array | BootFile;

export function isBootFile(value: unknown): value is BootFile {
  return typeof value === 'object' && value !== null && (value as Partial<BootFile>).kind === 'boot-file';
}

/** Opens `file` as a BootFile for `setting`: readInputFile's checks (ConfigError naming `setting`), and its head read. */
export function openBootFile(setting: string, file: string, limitBytes: number): BootFile {
  let opened: ReturnType<typeof openBoundedFile>;
  try {
    opened = openBoundedFile(file, { limitBytes });
  } catch (e) {
    throw new ConfigError(setting, (e as Error).message);
  }
  const { fd, st } = opened;
  try {
    const head = new Uint8Array(Math.min(st.size, BOOT_FILE_HEAD_BYTES));
    readOpenFileInto(fd, file, head);
    return { kind: 'boot-file', setting, path: file, length: st.size, head, identity: { dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs } };
  } catch (e) {
    throw new ConfigError(setting, (e as Error).message);
  } finally {
    fs.closeSync(fd);
  }
}

/** Its length in bytes. */
export function bootBytesLength(b: BootBytes): number {
  return b.length;
}

/** Its first bytes, up to `n` (at most BOOT_FILE_HEAD_BYTES for a file): what a loader's header check reads. */
export function bootBytesHead(b: BootBytes, n: number): Uint8Array {
  if (!isBootFile(b)) return b.subarray(0, n);
  if (n > BOOT_FILE_HEAD_BYTES) throw new RangeError(`a BootFile carries its first ${BOOT_FILE_HEAD_BYTES} bytes, not ${n}`);
  return b.head.subarray(0, n);
}

/** While a machine's boot images are laid out (deferBootFileReads), the file reads placeBootBytes queued. */
let deferredReads: (() => Promise<void>)[] | undefined;

/**
 * Runs `layOut` (an arch plugin's prepareBoot) with the file reads of placeBootBytes deferred:
 * `readFiles()` does them later. Why: the read is the longest part of laying out a Linux boot
 * (31 MiB of an arm64 Image, through 9p in the nested tiers), and nothing needs those bytes
 * until the guest runs — so a machine reads them on libuv's thread pool while its vCPUs are
 * built and its caller's `whileBootFilesLoad` work runs (machine.ts), instead of before. Bytes already in memory are copied at once, as are files
 * placed outside a layout (bootBytes, a plugin's own use).
 */
export function deferBootFileReads<T>(layOut: () => T): { readonly result: T; readonly readFiles: () => Promise<void> } {
  if (deferredReads !== undefined) throw new RangeError('boot images are being laid out already');
  const queue: (() => Promise<void>)[] = [];
  deferredReads = queue;
  let result: T;
  try {
    result = layOut();
  } finally {
    deferredReads = undefined;
  }
  // On libuv's thread pool, every file at once: the caller's thread goes on meanwhile. Settles
  // once every read has ended (a failed one does not leave another still writing guest RAM).
  return {
    result,
    readFiles: async () => {
      const reads = await Promise.allSettled(queue.splice(0).map((read) => read()));
      const failed = reads.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    },
  };
}

/**
 * Puts the whole of `b` into `into` (exactly its length: a view of guest RAM where the loader
 * planned it). A file is read straight into it — during a layout (deferBootFileReads) when its
 * reads are done — and one that changed since it was opened is a ConfigError naming its setting.
 */
export function placeBootBytes(b: BootBytes, into: Uint8Array): void {
  if (into.length !== bootBytesLength(b)) throw new RangeError(`placing ${bootBytesLength(b)} bytes into ${into.length}`);
  if (!isBootFile(b)) {
    into.set(b);
    return;
  }
  if (deferredReads !== undefined) deferredReads.push(() => readBootFileIntoAsync(b, into));
  else readBootFileInto(b, into);
}

/** Opens BootFile `b` again and checks it is still the one opened; the caller closes the fd. */
function reopenBootFile(b: BootFile): number {
  let opened: ReturnType<typeof openBoundedFile>;
  try {
    opened = openBoundedFile(b.path, { limitBytes: b.length, allowEmpty: true });
  } catch (e) {
    throw new ConfigError(b.setting, `${(e as Error).message} (it was ${b.length} bytes when kvmts opened it)`);
  }
  const { fd, st } = opened;
  const id = b.identity;
  if (st.size !== b.length || st.dev !== id.dev || st.ino !== id.ino || st.mtimeMs !== id.mtimeMs) {
    fs.closeSync(fd);
    throw new ConfigError(b.setting, `${b.path} changed after kvmts opened it (${b.length} bytes then, ${st.size} now): not loaded`);
  }
  return fd;
}

/** Reads BootFile `b` into `into` now, refusing a file that is no longer the one opened. */
function readBootFileInto(b: BootFile, into: Uint8Array): void {
  const fd = reopenBootFile(b);
  try {
    readOpenFileInto(fd, b.path, into);
  } catch (e) {
    throw new ConfigError(b.setting, (e as Error).message);
  } finally {
    fs.closeSync(fd);
  }
}

/** readBootFileInto with the read on libuv's thread pool (deferBootFileReads). */
async function readBootFileIntoAsync(b: BootFile, into: Uint8Array): Promise<void> {
  const fd = reopenBootFile(b);
  try {
    await readOpenFileIntoAsync(fd, b.path, into);
  } catch (e) {
    throw new ConfigError(b.setting, (e as Error).message);
  } finally {
    fs.closeSync(fd);
  }
}

/** The whole of `b` as bytes in memory (a file read now, checked as placeBootBytes checks it). */
export function bootBytes(b: BootBytes): Uint8Array {
  if (!isBootFile(b)) return b;
  const bytes = new Uint8Array(b.length);
  readBootFileInto(b, bytes);
  return bytes;
}
