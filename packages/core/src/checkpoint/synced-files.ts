/**
 * Creating a checkpoint's small files durably.
 *
 * Every file of a checkpoint is fsynced before the directory is renamed into place
 * (atomic-dir.ts). Done one file after the other on the calling thread, a save spent ~10 ms of
 * its ~55 ms in a dozen fsyncs of files of a few KiB (measured on an ext4 disk), each waiting
 * for its own journal commit. Their order does not matter — nothing reads the temporary
 * directory until it is renamed, and the rename waits for all of them — so the async form here
 * writes the bytes at once (into the page cache: microseconds) and queues every file's fsync to
 * libuv's thread pool together (its threads — four by default — run them side by side, and
 * concurrent fsyncs share journal commits), beside the memory image's writes.
 */
import * as fs from 'node:fs';
import { settleAll } from '../util/settle-all';

/** A file to create: its path and its whole content. */
export interface FileToWrite {
  readonly file: string;
  readonly bytes: Uint8Array | string;
}

/** Create `file` (it must not exist) holding `bytes`, fsynced, on this thread. */
export function writeFileSynced(file: string, bytes: Uint8Array | string): void {
  const fd = fs.openSync(file, 'wx');
  try {
    fs.writeFileSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A file created now (it must not exist), its content written and its fsync asked for later. A
 * checkpoint creates all its small files before any fsync starts: on ext4, creating a file while
 * a journal commit runs waits for that commit (measured: ~0.5 ms per file created beside the
 * fsyncs of the others).
 */
export class NewFile {
  private constructor(
    readonly path: string,
    private fd: number | undefined,
  ) {}

  static create(file: string): NewFile {
    return new NewFile(file, fs.openSync(file, 'wx'));
  }

  /** Write the file's whole content (into the page cache). */
  write(bytes: Uint8Array | string): void {
    fs.writeFileSync(this.openFd(), bytes);
  }

  /** fsync on the thread pool, then close whatever the fsync's outcome; settles when both have ended. */
  syncAndClose(): Promise<void> {
    const fd = this.openFd();
    this.fd = undefined;
    return fsyncAndClose(fd);
  }

  /** Close without an fsync, if not handed to syncAndClose already (a failed write's clean-up). */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined; // not tried twice, even when close fails
    fs.closeSync(fd);
  }

  private openFd(): number {
    if (this.fd === undefined) throw new Error(`${this.path}: already closed`);
    return this.fd;
  }
}

/**
 * Close every file not handed to syncAndClose yet, all of them even if a close fails (a failure's
 * clean-up: the error it cleans up after is the one to report, so a failed close is not thrown).
 */
export function closeAll(files: readonly NewFile[]): void {
  for (const f of files) {
    try {
      f.close();
    } catch {
      // The descriptor is released by the kernel even when close reports an error (close(2)).
    }
  }
}

/** Create every file (none may exist), empty; on a failure the ones created are closed and the error thrown. */
export function createNewFiles(files: readonly string[]): NewFile[] {
  const created: NewFile[] = [];
  try {
    for (const file of files) created.push(NewFile.create(file));
  } catch (e) {
    closeAll(created);
    throw e;
  }
  return created;
}

/**
 * Create every file (none may exist) holding its bytes, then fsync them all at once on the
 * thread pool. Settles only when every file it opened is fsynced (or failed) and closed; rejects
 * with the first failure.
 */
export async function writeFilesSynced(files: readonly FileToWrite[]): Promise<void> {
  const created = createNewFiles(files.map((f) => f.file));
  try {
    files.forEach((f, i) => created[i].write(f.bytes));
  } catch (e) {
    closeAll(created);
    throw e;
  }
  await settleAll(created.map((f) => f.syncAndClose()));
}

/** fsync each path (files or directories) at once on the thread pool; settles when all have ended, rejecting with the first failure. */
export async function fsyncPaths(paths: readonly string[]): Promise<void> {
  await settleAll(paths.map(async (p) => fsyncAndClose(await openForSync(p))));
}

function openForSync(p: string): Promise<number> {
  return new Promise((resolve, reject) => fs.open(p, 'r', (e, fd) => (e ? reject(e) : resolve(fd))));
}

/** fsync(fd) on the thread pool, then close it whatever the fsync's outcome. */
function fsyncAndClose(fd: number): Promise<void> {
  return new Promise((resolve, reject) =>
    fs.fsync(fd, (syncError) => {
      fs.close(fd, (closeError) => {
        const e = syncError ?? closeError;
        if (e) reject(e);
        else resolve();
      });
    }),
  );
}
