import { Worker } from 'node:worker_threads';
import { ConsoleOrder, createConsoleSequence, takeConsoleSequence } from '../src/machine/console-order';

const text = (chunks: Uint8Array[]): string => chunks.map((c) => Buffer.from(c).toString('latin1')).join('');
const bytes = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));

function rig(gapMs = 1000) {
  const out: Uint8Array[] = [];
  const order = new ConsoleOrder((b) => out.push(b), gapMs);
  return { out, order, text: () => text(out) };
}

describe('ConsoleOrder: console messages from several threads, in the order they were numbered', () => {
  it('hands on messages that come in order at once', () => {
    const r = rig();
    r.order.deliver(0, bytes('a'));
    r.order.deliver(1, bytes('b'));
    expect(r.text()).toBe('ab');
    expect(r.order.heldCount).toBe(0);
  });

  it('holds a message until the earlier ones come, then hands them all on in number order', () => {
    const r = rig();
    r.order.deliver(2, bytes('c'));
    r.order.deliver(1, bytes('b'));
    expect(r.text()).toBe('');
    expect(r.order.heldCount).toBe(2);
    r.order.deliver(0, bytes('a'));
    expect(r.text()).toBe('abc');
    expect(r.order.heldCount).toBe(0);
  });

  it('two threads interleaving byte by byte come out as the guest wrote them', () => {
    // Numbers taken as the guest wrote "hello": thread A wrote h, l, o and thread B e, l; B's
    // messages all arrive before A's.
    const r = rig();
    r.order.deliver(1, bytes('e'));
    r.order.deliver(3, bytes('l'));
    r.order.deliver(0, bytes('h'));
    r.order.deliver(2, bytes('l'));
    r.order.deliver(4, bytes('o'));
    expect(r.text()).toBe('hello');
  });

  it('flush() hands on everything held in number order, skipping a number that never came; a late one still goes', () => {
    const r = rig();
    r.order.deliver(3, bytes('d'));
    r.order.deliver(1, bytes('b'));
    r.order.flush();
    expect(r.text()).toBe('bd');
    r.order.deliver(4, bytes('e'));
    expect(r.text()).toBe('bde');
    // 0 and 2 were given up: arriving now they are handed on at once, not held.
    r.order.deliver(0, bytes('a'));
    r.order.deliver(2, bytes('c'));
    expect(r.text()).toBe('bdeac');
    expect(r.order.heldCount).toBe(0);
  });

  describe('with fake timers', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    it('a gap is given up after two timer periods with no progress, not after one', () => {
      const r = rig(20);
      r.order.deliver(1, bytes('b'));
      r.order.deliver(2, bytes('c'));
      jest.advanceTimersByTime(20);
      // One period: messages queued behind a busy thread get their turn before the gap goes.
      expect(r.text()).toBe('');
      jest.advanceTimersByTime(20);
      expect(r.text()).toBe('bc');
      r.order.deliver(3, bytes('d'));
      expect(r.text()).toBe('bcd');
    });

    it('progress between the ticks restarts the wait', () => {
      const r = rig(20);
      r.order.deliver(1, bytes('b'));
      r.order.deliver(3, bytes('d'));
      jest.advanceTimersByTime(20);
      r.order.deliver(0, bytes('a')); // 0 and 1 go; 3 still waits for 2
      expect(r.text()).toBe('ab');
      jest.advanceTimersByTime(20);
      expect(r.text()).toBe('ab');
      jest.advanceTimersByTime(20);
      expect(r.text()).toBe('abd');
    });

    it("a sink failure in the gap timer is thrown by the next delivery, which still hands its own message on", () => {
      const out: string[] = [];
      let fail = true;
      const order = new ConsoleOrder((b) => {
        if (fail) throw new Error('sink down');
        out.push(Buffer.from(b).toString('latin1'));
      }, 10);
      order.deliver(1, bytes('b'));
      jest.advanceTimersByTime(20);
      fail = false;
      expect(() => order.deliver(2, bytes('c'))).toThrow('sink down');
      expect(out).toEqual(['c']);
      expect(order.heldCount).toBe(0);
    });

    it("flush() throws a failure the gap timer kept (a run's end reports it, not the next run)", () => {
      let fail = true;
      const order = new ConsoleOrder(() => {
        if (fail) throw new Error('sink down');
      }, 10);
      order.deliver(1, bytes('b'));
      jest.advanceTimersByTime(20);
      fail = false;
      expect(() => order.flush()).toThrow('sink down');
      expect(() => order.flush()).not.toThrow();
    });
  });

  it('numbers wrap at 2^32 and stay in order across the wrap', () => {
    const counter = new Uint32Array(createConsoleSequence());
    counter[0] = 0xffff_fffe;
    const seqs = [takeConsoleSequence(counter), takeConsoleSequence(counter), takeConsoleSequence(counter)];
    expect(seqs).toEqual([0xffff_fffe, 0xffff_ffff, 0]);
    const r = rig();
    // Bring the order to the counter's position as a long run would, in two gaps given up (a
    // number more than 2^31 ahead would count as late, not held).
    r.order.deliver(0x7fff_ffff, bytes('-'));
    r.order.flush();
    r.order.deliver(0xffff_fffd, bytes('='));
    r.order.flush();
    r.order.deliver(seqs[2], bytes('c'));
    r.order.deliver(seqs[1], bytes('b'));
    expect(r.text()).toBe('-=');
    r.order.deliver(seqs[0], bytes('a'));
    expect(r.text()).toBe('-=abc');
    expect(r.order.heldCount).toBe(0);
  });

  it('a sink that throws fails the delivery that called it, and the order moves on past the message', () => {
    const out: string[] = [];
    let fail = true;
    const order = new ConsoleOrder((b) => {
      const s = Buffer.from(b).toString('latin1');
      if (fail && s === 'b') throw new Error('sink down');
      out.push(s);
    });
    order.deliver(1, bytes('b'));
    expect(() => order.deliver(0, bytes('a'))).toThrow('sink down');
    fail = false;
    order.deliver(2, bytes('c'));
    expect(out).toEqual(['a', 'c']);
  });

  it('numbers from one counter are unique across threads (Atomics on shared memory)', async () => {
    const shared = createConsoleSequence();
    const code = `const { workerData, parentPort } = require('node:worker_threads');
      const c = new Uint32Array(workerData); const got = [];
      for (let i = 0; i < 2000; i++) got.push(Atomics.add(c, 0, 1));
      parentPort.postMessage(got);`;
    const run = () =>
      new Promise<number[]>((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: shared });
        w.once('message', resolve);
        w.once('error', reject);
      });
    const [a, b] = await Promise.all([run(), run()]);
    const all = new Set([...a, ...b]);
    expect(all.size).toBe(4000);
    expect(Math.max(...all)).toBe(3999);
  });
});
