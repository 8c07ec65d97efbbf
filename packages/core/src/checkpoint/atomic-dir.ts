/**
 * Replacing a checkpoint directory so that a crash (SIGKILL, power loss) at any instant leaves
 * a loadable checkpoint: the new one or the old one, never a mixture.
 *
 * Linux cannot rename a directory over a non-empty one, and Node offers no renameat2
 * (RENAME_EXCHANGE), so the swap is two renames with a recovery rule:
 *
 *   1. write everything into `<target>.tmp-<pid>-<n>`, fsync every file and the directory;
 *   2. rename `<target>` → `<target>.previous`, fsync the parent;
 *   3. rename the temp directory → `<target>`, fsync the parent;
 *   4. remove `<target>.previous`.
 *
 * A crash before 2 leaves the old target untouched (and a temp directory that the next writer
 * removes); between 2 and 3 leaves only `<target>.previous`, which readers use and the next
 * writer moves back (`checkpointLocation`, `recoverInterruptedSwap`); after 3 the new target is
 * complete. Step 4 needs no fsync: should the removal not reach the disk, a `.previous` beside a
 * complete target is ignored by readers and removed by the next writer. (On a file system that
 * reorders metadata, a `.previous` could come back after a crash that followed the user's own
 * removal of the target: readers would then find that older checkpoint there.) One writer per
 * target at a time.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CheckpointError } from '../errors/errors';

export const PREVIOUS_SUFFIX = '.previous';
const TEMP_INFIX = '.tmp-';

/** fsync a file or directory by path (a directory's entries become durable this way). */
export function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function exists(p: string): boolean {
  return fs.existsSync(p);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Undo what an interrupted writer left: the old checkpoint moved aside but the new one not yet
 * in place (moved back), a `.previous` next to a complete new target (removed), temp
 * directories of writers that are gone (removed).
 */
export function recoverInterruptedSwap(target: string): void {
  const previous = target + PREVIOUS_SUFFIX;
  if (exists(previous)) {
    if (!exists(target)) fs.renameSync(previous, target);
    else fs.rmSync(previous, { recursive: true, force: true });
    fsyncPath(path.dirname(target));
  }
  const dir = path.dirname(target);
  const prefix = path.basename(target) + TEMP_INFIX;
  for (const name of exists(dir) ? fs.readdirSync(dir) : []) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && processAlive(pid)) continue;
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

/**
 * Where the checkpoint called `target` is to be read from: `target` itself, or
 * `<target>.previous` when a writer was interrupted between its two renames. Reads only.
 */
export function checkpointLocation(target: string): string {
  if (!exists(target) && exists(target + PREVIOUS_SUFFIX)) return target + PREVIOUS_SUFFIX;
  return target;
}

let tempCounter = 0;

/**
 * Build a directory with `fill(tempDir)` and put it at `target` atomically (see the file
 * header). `fill` must leave what it writes durable — every file and directory it writes,
 * `tempDir` itself included, fsynced (CheckpointWriter does: it fsyncs them beside its files',
 * where one more fsync here would wait for one more journal commit). On failure the temp
 * directory is removed and the previous `target` stays.
 */
export async function replaceDirectoryAtomically(target: string, fill: (tempDir: string) => Promise<void>): Promise<void> {
  const parent = path.dirname(path.resolve(target));
  if (!exists(parent)) throw new CheckpointError(target, `parent directory ${parent} does not exist`, { code: 'missing' });
  recoverInterruptedSwap(target);
  const temp = `${target}${TEMP_INFIX}${process.pid}-${tempCounter++}`;
  fs.mkdirSync(temp);
  try {
    await fill(temp);
  } catch (e) {
    fs.rmSync(temp, { recursive: true, force: true });
    throw e;
  }
  const previous = target + PREVIOUS_SUFFIX;
  const hadTarget = exists(target);
  if (hadTarget) {
    fs.renameSync(target, previous);
    fsyncPath(parent);
  }
  fs.renameSync(temp, target);
  fsyncPath(parent);
  if (hadTarget) fs.rmSync(previous, { recursive: true, force: true });
}
