import { ConfigError, defineSharedLayout, SharedLock } from '@kvmts/core';

const table = {
  lock: 'lock',
  flag: 'u8',
  counter: 'u32',
  published: 'atomic-u32',
  small: 'u8',
  ring: { bytes: 5 },
  last: 'u8',
} as const;

describe('defineSharedLayout', () => {
  it('lays fields out in order, each aligned to its size, and rounds the total to whole words', () => {
    const layout = defineSharedLayout({ name: 'test', version: 3, fields: table });
    expect(layout).toMatchObject({ name: 'test', version: 3, byteLength: 24 });
    expect(layout.fields).toEqual({
      lock: { kind: 'lock', offset: 0, size: 4 },
      flag: { kind: 'u8', offset: 4, size: 1 },
      counter: { kind: 'u32', offset: 8, size: 4 },
      published: { kind: 'atomic-u32', offset: 12, size: 4 },
      small: { kind: 'u8', offset: 16, size: 1 },
      ring: { kind: { bytes: 5 }, offset: 17, size: 5 },
      last: { kind: 'u8', offset: 22, size: 1 },
    });
  });

  it('builds a layout from options, for parts whose size they choose', () => {
    const ringLayout = (bytes: number) => defineSharedLayout({ name: 'ring', version: 1, fields: { head: 'u32', data: { bytes } } });
    expect(ringLayout(16).byteLength).toBe(20);
    expect(ringLayout(1024).byteLength).toBe(1028);
  });

  it('binds accessors that read and write the shared bytes at the field offsets', () => {
    const layout = defineSharedLayout({ name: 'test', version: 1, fields: table });
    const shared = new SharedArrayBuffer(layout.byteLength);
    const s = layout.bind(shared);
    const bytes = new Uint8Array(shared);
    const words = new Int32Array(shared);
    s.flag = 0x1ff; // a byte keeps the low 8 bits, like a Uint8Array
    s.counter = 0xffffffff;
    s.published = 0x80000001;
    s.ring[4] = 0xab;
    s.last = 7;
    expect(bytes[4]).toBe(0xff);
    expect(words[2]).toBe(-1);
    expect(s.counter).toBe(0xffffffff); // unsigned, and wraps modulo 2^32
    s.counter = s.counter + 1;
    expect(s.counter).toBe(0);
    expect(Atomics.load(words, 3) >>> 0).toBe(0x80000001);
    expect(s.published).toBe(0x80000001);
    expect(bytes[21]).toBe(0xab);
    expect(s.ring).toHaveLength(5);
    expect(bytes[22]).toBe(7);
    expect(s.lock).toBeInstanceOf(SharedLock);
  });

  it('gives every binding of the same buffer the same state, and identical layouts one accessor class', () => {
    const a = defineSharedLayout({ name: 'test', version: 1, fields: table });
    const b = defineSharedLayout({ name: 'test', version: 1, fields: table });
    const shared = new SharedArrayBuffer(a.byteLength);
    const x = a.bind(shared);
    const y = b.bind(shared);
    x.small = 42;
    expect(y.small).toBe(42);
    expect(Object.getPrototypeOf(x)).toBe(Object.getPrototypeOf(y));
  });

  it('refuses a buffer of another size', () => {
    const layout = defineSharedLayout({ name: 'test', version: 1, fields: table });
    expect(() => layout.bind(new SharedArrayBuffer(32))).toThrow(ConfigError);
    expect(() => layout.bind(new SharedArrayBuffer(32))).toThrow(/test\.shared: buffer is 32 bytes, layout 'test' v1 needs 24/);
  });

  it('rejects bad tables with a ConfigError naming the field', () => {
    expect(() => defineSharedLayout({ name: 't', version: 0, fields: {} })).toThrow(/t\.version/);
    expect(() => defineSharedLayout({ name: '', version: 1, fields: {} })).toThrow(/sharedLayout\.name/);
    expect(() => defineSharedLayout({ name: 't', version: 1, fields: { x: { bytes: -1 } } })).toThrow(/t\.fields\.x: bytes/);
    expect(() => defineSharedLayout({ name: 't', version: 1, fields: { x: 'u64' as 'u32' } })).toThrow(/t\.fields\.x: unknown field kind "u64"/);
    expect(() => defineSharedLayout({ name: 't', version: 1, fields: { constructor: 'u8' } })).toThrow(/t\.fields\.constructor: is a reserved name/);
  });
});
