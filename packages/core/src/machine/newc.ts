/**
 * A cpio "newc" archive (the initramfs format, Linux Documentation/driver-api/early-userspace/
 * buffer-format.rst), enough for a small initramfs: directories, files and device nodes, owned
 * by root. Written as bytes because an archive with a device node (init's /dev/console) then
 * needs no root, and the hosts that build one (a test guest, `npm run bench -- boot`) have no
 * cpio that writes one.
 */
export type NewcEntry =
  | { readonly path: string; readonly kind: 'dir' }
  | { readonly path: string; readonly kind: 'file'; readonly mode: number; readonly data: Uint8Array }
  | { readonly path: string; readonly kind: 'char'; readonly major: number; readonly minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;

function header(ino: number, mode: number, size: number, rdev: [number, number], nameBytes: number): string {
  const fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, rdev[0], rdev[1], nameBytes, 0];
  return '070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join('');
}

export function newcArchive(entries: readonly NewcEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let length = 0;
  const push = (bytes: Uint8Array): void => {
    parts.push(bytes);
    length += bytes.length;
    const pad = (4 - (length % 4)) % 4;
    if (pad) {
      parts.push(new Uint8Array(pad));
      length += pad;
    }
  };
  const add = (ino: number, name: string, mode: number, data: Uint8Array, rdev: [number, number]): void => {
    const nameBytes = Buffer.from(`${name}\0`);
    // The header (110 bytes) and the name are padded together to 4 bytes, then the data.
    push(Buffer.concat([Buffer.from(header(ino, mode, data.length, rdev, nameBytes.length)), nameBytes]));
    if (data.length) push(data);
  };
  entries.forEach((e, i) => {
    if (e.kind === 'dir') add(i + 1, e.path, S_IFDIR | 0o755, new Uint8Array(0), [0, 0]);
    else if (e.kind === 'file') add(i + 1, e.path, S_IFREG | e.mode, e.data, [0, 0]);
    else add(i + 1, e.path, S_IFCHR | 0o600, new Uint8Array(0), [e.major, e.minor]);
  });
  add(0, 'TRAILER!!!', 0, new Uint8Array(0), [0, 0]);
  return Buffer.concat(parts);
}
