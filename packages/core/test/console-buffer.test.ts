/** The vCPU thread's console batching: a line at a time on a one-vCPU machine, each byte at once on an SMP one. */
import { ConsoleBuffer } from '../src/machine/console-buffer';

const text = (chunks: Uint8Array[]) => chunks.map((c) => Buffer.from(c).toString('latin1'));

describe('ConsoleBuffer', () => {
  it('line-buffered: hands on whole lines, and what is left when flushed (a prompt)', () => {
    const out: Uint8Array[] = [];
    const b = new ConsoleBuffer((bytes) => out.push(bytes));
    for (const c of Buffer.from('ab\ncd')) b.push(c);
    expect(text(out)).toEqual(['ab\n']);
    b.flush();
    expect(text(out)).toEqual(['ab\n', 'cd']);
  });

  it('not line-buffered (several vCPU threads): every byte goes at once, so no partial line waits behind another thread', () => {
    const out: Uint8Array[] = [];
    const b = new ConsoleBuffer((bytes) => out.push(bytes));
    b.lineBuffered = false;
    for (const c of Buffer.from('ab\n')) b.push(c);
    expect(text(out)).toEqual(['a', 'b', '\n']);
  });

  it('a full buffer goes without a newline', () => {
    const out: Uint8Array[] = [];
    const b = new ConsoleBuffer((bytes) => out.push(bytes));
    for (let i = 0; i < 4096; i++) b.push(0x41);
    expect(out.map((c) => c.length)).toEqual([4096]);
  });
});
