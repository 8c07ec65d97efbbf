/**
 * The apt dependency closure behind the nested tiers' guest QEMU (scripts/nested/lib/
 * apt-closure.js), on `apt-cache depends` and `readelf -d` text as Debian bookworm prints it.
 */
interface Alternative { name: string; providers: string[] | null }
interface AptClosure {
  parseAptDepends(text: string): Map<string, Alternative[][]>;
  chooseAlternative(group: Alternative[]): string | null;
  isLibraryPackage(name: string, arch: string): boolean;
  libraryClosure(root: string, o: { arch: string; guestHas: Set<string>; lookup: (names: string[]) => string }): string[];
  missingSonames(elves: { file: string; needed: string[] }[], provided: Set<string>): { soname: string; by: string }[];
  parseNeeded(text: string): string[];
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const apt = require('../../../scripts/nested/lib/apt-closure.js') as AptClosure;

/** `apt-cache depends --no-recommends … qemu-system-arm:arm64` (trimmed), and the levels below. */
const APT: Record<string, string> = {
  'qemu-system-arm:arm64': `qemu-system-arm:arm64
  Depends: libaio1:arm64
  Depends: libc6:arm64
  Depends: libglib2.0-0:arm64
  Depends: zlib1g:arm64
  Depends: qemu-system-common:arm64
  Depends: <qemu-system-data:arm64>
    qemu-system-data
`,
  'libaio1:arm64': `libaio1:arm64
  Depends: libc6:arm64
`,
  'libglib2.0-0:arm64': `libglib2.0-0:arm64
  Depends: libc6:arm64
  Depends: libffi8:arm64
  Depends: libmount1:arm64
  Depends: zlib1g:arm64
`,
  'zlib1g:arm64': `zlib1g:arm64
  Depends: libc6:arm64
`,
  'libffi8:arm64': `libffi8:arm64
  Depends: libc6:arm64
`,
  'libmount1:arm64': `libmount1:arm64
  Depends: libblkid1:arm64
  Depends: libc6:arm64
`,
  'libblkid1:arm64': `libblkid1:arm64
  Depends: libc6:arm64
`,
};

describe('apt dependency closure', () => {
  it('parses relation lines, alternatives (|Depends) and virtual packages with their providers', () => {
    const parsed = apt.parseAptDepends(`libsemanage2:arm64
  Depends: libaudit1:arm64
 |PreDepends: <debconf:arm64>
    debconf
  PreDepends: <debconf-2.0:arm64>
    cdebconf:arm64
    debconf
  Recommends: libsemanage-common
  Depends: libbz2-1.0:arm64
libcapstone4:arm64
`);
    expect([...parsed.keys()]).toEqual(['libsemanage2:arm64', 'libcapstone4:arm64']);
    expect(parsed.get('libsemanage2:arm64')).toEqual([
      [{ name: 'libaudit1:arm64', providers: null }],
      [{ name: 'debconf:arm64', providers: ['debconf'] }, { name: 'debconf-2.0:arm64', providers: ['cdebconf:arm64', 'debconf'] }],
      [{ name: 'libbz2-1.0:arm64', providers: null }],
    ]);
    expect(parsed.get('libcapstone4:arm64')).toEqual([]);
  });

  it('chooses the first real alternative, else the first provider of a virtual one', () => {
    expect(apt.chooseAlternative([{ name: 'a', providers: ['p'] }, { name: 'b', providers: null }])).toBe('b');
    expect(apt.chooseAlternative([{ name: 'a', providers: [] }, { name: 'v', providers: ['p1', 'p2'] }])).toBe('p1');
    expect(apt.chooseAlternative([{ name: 'a', providers: [] }])).toBeNull();
  });

  it('follows library packages of the arch only: lib* and zlib1g, arch-qualified', () => {
    expect(['libaio1:arm64', 'zlib1g:arm64', 'libaio1', 'libaio1:amd64', 'qemu-system-common:arm64', 'adduser'].map((n) => apt.isLibraryPackage(n, 'arm64')))
      .toEqual([true, true, false, false, false, false]);
  });

  it("walks the closure level by level, skipping what the guest has and what is not a library, asking apt once per level", () => {
    const asked: string[][] = [];
    const lookup = (names: string[]): string => {
      asked.push(names);
      return names.map((n) => APT[n]).join('');
    };
    const closure = apt.libraryClosure('qemu-system-arm:arm64', { arch: 'arm64', guestHas: new Set(['libc6', 'libgcc-s1', 'libstdc++6']), lookup });
    expect(closure).toEqual(['qemu-system-arm:arm64', 'libaio1:arm64', 'libglib2.0-0:arm64', 'zlib1g:arm64', 'libffi8:arm64', 'libmount1:arm64', 'libblkid1:arm64']);
    expect(asked).toEqual([
      ['qemu-system-arm:arm64'],
      ['libaio1:arm64', 'libglib2.0-0:arm64', 'zlib1g:arm64'],
      ['libffi8:arm64', 'libmount1:arm64'],
      ['libblkid1:arm64'],
    ]);
  });

  it('reads DT_NEEDED from readelf -d and names each soname nothing provides, with who needs it', () => {
    const readelf = `
Dynamic section at offset 0x9a2d0 contains 31 entries:
  Tag        Type                         Name/Value
 0x0000000000000001 (NEEDED)             Shared library: [libz.so.1]
 0x0000000000000001 (NEEDED)             Shared library: [libc.so.6]
 0x000000000000000e (SONAME)             Library soname: [libpng16.so.16]
`;
    expect(apt.parseNeeded(readelf)).toEqual(['libz.so.1', 'libc.so.6']);
    const provided = new Set(['libz.so.1', 'libc.so.6', 'libglib-2.0.so.0']);
    expect(apt.missingSonames([
      { file: 'usr/bin/qemu-system-aarch64', needed: ['libglib-2.0.so.0', 'libpmem.so.1'] },
      { file: 'usr/lib/aarch64-linux-gnu/libpng16.so.16', needed: ['libz.so.1', 'libc.so.6'] },
    ], provided)).toEqual([{ soname: 'libpmem.so.1', by: 'usr/bin/qemu-system-aarch64' }]);
  });
});
