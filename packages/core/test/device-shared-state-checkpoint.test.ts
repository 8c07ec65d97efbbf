import { CheckpointError, defineSharedLayout, restoreSharedState, saveSharedState, type SavedSharedState } from '@kvmts/core';

const layout = defineSharedLayout({
  name: 'dev',
  version: 2,
  fields: { lock: 'lock', a: 'u8', b: 'u32', rxLock: 'lock', data: { bytes: 8 } },
});

function filled(): SharedArrayBuffer {
  const shared = new SharedArrayBuffer(layout.byteLength);
  const s = layout.bind(shared);
  s.a = 1;
  s.b = 0xdeadbeef;
  s.data.set([1, 2, 3, 4, 5, 6, 7, 8]);
  return shared;
}

describe('saveSharedState / restoreSharedState', () => {
  it('round-trips every field into a fresh buffer', () => {
    const saved = saveSharedState(layout, filled());
    expect(saved).toMatchObject({ layout: 'dev', version: 2 });
    const target = new SharedArrayBuffer(layout.byteLength);
    restoreSharedState(layout, target, structuredClone(saved));
    const t = layout.bind(target);
    expect([t.a, t.b, [...t.data]]).toEqual([1, 0xdeadbeef, [1, 2, 3, 4, 5, 6, 7, 8]]);
  });

  it('never saves a lock as held, and never overwrites the target’s lock words', () => {
    const shared = filled();
    const source = layout.bind(shared);
    source.lock.acquire();
    source.rxLock.acquire();
    const saved = saveSharedState(layout, shared);
    const words = new Int32Array(saved.bytes.buffer);
    expect([words[layout.fields.lock.offset / 4], words[layout.fields.rxLock.offset / 4]]).toEqual([0, 0]);

    const target = new SharedArrayBuffer(layout.byteLength);
    const t = layout.bind(target);
    t.lock.acquire(); // a restorer may hold the lock of the buffer it restores into
    restoreSharedState(layout, target, saved);
    expect(Atomics.load(new Int32Array(target), 0)).not.toBe(0);
    t.lock.release();
    expect(Atomics.load(new Int32Array(target), 0)).toBe(0);
    expect(t.b).toBe(0xdeadbeef);
  });

  it('saves a copy, not a view of the live buffer', () => {
    const shared = filled();
    const saved = saveSharedState(layout, shared);
    layout.bind(shared).a = 99;
    expect(saved.bytes[layout.fields.a.offset]).toBe(1);
  });

  it('refuses another layout, version or size with a CheckpointError naming what differs, and writes nothing', () => {
    const saved = saveSharedState(layout, filled());
    const target = new SharedArrayBuffer(layout.byteLength);
    const cases: [SavedSharedState, RegExp][] = [
      [{ ...saved, layout: 'other' }, /device state 'dev': saved state is of layout 'other', not 'dev'/],
      [{ ...saved, version: 1 }, /device state 'dev': saved state is layout version 1, this build has version 2/],
      [{ ...saved, bytes: saved.bytes.subarray(4) }, /device state 'dev': saved state is 20 bytes, layout v2 has 24/],
      [{ ...saved, bytes: undefined as unknown as Uint8Array }, /device state 'dev': saved state has no bytes/],
    ];
    for (const [blob, message] of cases) {
      expect(() => restoreSharedState(layout, target, blob)).toThrow(CheckpointError);
      expect(() => restoreSharedState(layout, target, blob)).toThrow(message);
    }
    expect(new Uint8Array(target).every((byte) => byte === 0)).toBe(true);
  });

  it('refuses a target buffer of another size', () => {
    const saved = saveSharedState(layout, filled());
    expect(() => restoreSharedState(layout, new SharedArrayBuffer(8), saved)).toThrow(/shared buffer is 8 bytes, layout v2 has 24/);
    expect(() => saveSharedState(layout, new SharedArrayBuffer(8))).toThrow(CheckpointError);
  });
});
