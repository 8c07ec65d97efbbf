/**
 * The initramfs writer against the newc format written out by hand: "070701", 13 fields of 8
 * hex digits (ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
 * rdevminor, namesize, check), the NUL-terminated name, header+name and data each padded to 4.
 */
import { newcArchive } from '@kvmts/core';

const hdr = (fields: string): string => `070701${fields.replace(/ /g, '')}`;

describe('newcArchive', () => {
  it('writes a directory, a file and a device node, then the trailer, in golden bytes', () => {
    const archive = newcArchive([
      { path: 'bin', kind: 'dir' },
      { path: 'init', kind: 'file', mode: 0o755, data: Buffer.from('hi') },
      { path: 'dev/console', kind: 'char', major: 5, minor: 1 },
    ]);
    const expected =
      // ino 1, mode 040755, nlink 1, namesize 4: 110 + 4 = 114 bytes, padded to 116
      hdr('00000001 000041ed 00000000 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000004 00000000') + 'bin\0' + '\0\0' +
      // ino 2, mode 0100755, size 2, namesize 5: 115 → 116; data 2 → 4
      hdr('00000002 000081ed 00000000 00000000 00000001 00000000 00000002 00000000 00000000 00000000 00000000 00000005 00000000') + 'init\0' + '\0' + 'hi\0\0' +
      // ino 3, mode 020600, rdev 5:1 (/dev/console), namesize 12: 122 → 124
      hdr('00000003 00002180 00000000 00000000 00000001 00000000 00000000 00000000 00000000 00000005 00000001 0000000c 00000000') + 'dev/console\0' + '\0\0' +
      // the trailer: ino 0, mode 0, namesize 11: 121 → 124
      hdr('00000000 00000000 00000000 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 0000000b 00000000') + 'TRAILER!!!\0' + '\0\0\0';
    expect(archive.length).toBe(484);
    expect(Buffer.from(archive).toString('latin1')).toBe(expected);
  });

  it('an empty list is just the trailer', () => {
    expect(newcArchive([]).length).toBe(124);
  });
});
