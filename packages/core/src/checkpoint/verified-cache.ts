/**
 * Checkpoint files a restore has read and checked already, kept decoded, so restoring the same
 * checkpoint again (a warm restore, as often as wanted) does not read, hash and decode its
 * manifest and sections each time. Integrity stays what it was: an entry is used only for the
 * very file it was checked from, and only for the checksum the manifest asks for now —
 *
 *   - the file's identity at the read: device, inode, size, mtime and ctime (ns). Any write or
 *     replacement changes one of them (ctime cannot be set by a user);
 *   - "racy" files are not kept (git's racy-clean rule): a file whose ctime is less than
 *     RACY_NS before the read could be rewritten within the same coarse kernel timestamp tick
 *     without changing its times, so it is read and checked again next time;
 *   - the section checksum the manifest gives must be the one it was checked against.
 *
 * The memory image is never cached (it is mapped; `verifyMemory` reads it every time). Values
 * are handed out as structured clones: a restore that changes what it got cannot change the next.
 */
import * as fs from 'node:fs';

/** A file changed less than this long before it was read is not cached (kernel timestamps are coarse). */
export const RACY_NS = 2_000_000_000n;
const MAX_ENTRIES = 256;

interface Entry {
  readonly identity: string;
  readonly checksum: string;
  readonly value: unknown;
}

const entries = new Map<string, Entry>();

function identityOf(file: string): { identity: string; ctimeNs: bigint } | undefined {
  try {
    const st = fs.statSync(file, { bigint: true });
    if (!st.isFile()) return undefined;
    return { identity: `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`, ctimeNs: st.ctimeNs };
  } catch {
    return undefined; // the load below reports the problem as a CheckpointError
  }
}

/**
 * `load()`'s value for `file` (which reads and checks it), or the value a load of this same,
 * unchanged file returned before under the same `checksum` (the manifest's SHA-256 of a section;
 * for the manifest itself, a fixed tag).
 */
export function verifiedRead<T>(file: string, checksum: string, load: () => T): T {
  const before = identityOf(file);
  const hit = before && entries.get(file);
  if (hit && hit.identity === before.identity && hit.checksum === checksum) return structuredClone(hit.value) as T;
  const readAt = BigInt(Date.now()) * 1_000_000n;
  const value = load();
  const after = identityOf(file);
  // Kept only if the file did not change while it was read and is not racy.
  if (before && after && before.identity === after.identity && readAt - after.ctimeNs >= RACY_NS) {
    entries.delete(file);
    entries.set(file, { identity: after.identity, checksum, value: structuredClone(value) });
    if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
  } else {
    entries.delete(file);
  }
  return value;
}

/** Forget every cached file (tests; a caller that wants every restore to read everything). */
export function clearVerifiedCache(): void {
  entries.clear();
}
