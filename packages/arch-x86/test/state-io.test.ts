/**
 * StateIoQueue (state/state-io.ts): one ioctl at a time, or queued and run as one batch with
 * each step's follow-up run in order, up to where the batch stopped.
 */
import { KvmError } from '@kvmts/core';
import { StateIoQueue, type VcpuIoctlBatchPort } from '@kvmts/arch-x86';

/** A port whose ioctls answer `answers[request]` (negative: -errno), recording each batch's names. */
function port(answers: Record<number, number>) {
  const runs: string[][] = [];
  const p: VcpuIoctlBatchPort = {
    run(batch, ops) {
      runs.push(ops.slice(0, batch.count));
      for (let i = 0; i < batch.count; i++) {
        const r = answers[batch.requests[i]] ?? 0;
        batch.results[i] = r;
        if (r < 0 || (batch.expects[i] >= 0 && r !== batch.expects[i])) return i;
      }
      return batch.count;
    },
    error: (batch, index, op) => new KvmError(op, -batch.results[index], 'EIO'),
  };
  return { p, runs };
}

describe('StateIoQueue', () => {
  it('without a port, or outside begin/flush, each call is one ioctl with its follow-up at once', () => {
    const calls: string[] = [];
    const q = new StateIoQueue((_r, op) => (calls.push(op), 7), undefined);
    const got: number[] = [];
    expect(q.begin()).toBe(false);
    q.call('a', 1, 'ONE', undefined, (r) => got.push(r));
    q.then('b', (r) => got.push(r + 100));
    expect(calls).toEqual(['ONE']);
    expect(got).toEqual([7, 100]);
  });

  it('queued: one batch, follow-ups in order (steps without an ioctl in their place), results passed on', () => {
    const { p, runs } = port({ 1: 0, 2: 5 });
    const q = new StateIoQueue(() => {
      throw new Error('no single ioctl expected');
    }, p);
    const order: string[] = [];
    expect(q.begin()).toBe(true);
    q.call('a', 1, 'ONE', undefined, (r) => order.push(`a:${r}`));
    q.then('b', () => order.push('b'));
    q.call('c', 2, 'TWO', undefined, (r) => order.push(`c:${r}`), 5);
    expect(order).toEqual([]);
    expect(q.flush()).toBeUndefined();
    expect(runs).toEqual([['ONE', 'TWO']]);
    expect(order).toEqual(['a:0', 'b', 'c:5']);
  });

  it('a failing ioctl stops it: earlier follow-ups ran, later ones did not, the error names it', () => {
    const { p } = port({ 2: -5 });
    const q = new StateIoQueue(() => 0, p);
    const order: string[] = [];
    q.begin();
    q.call('a', 1, 'ONE', undefined, () => order.push('a'));
    q.call('b', 2, 'TWO', undefined, () => order.push('b'));
    q.then('c', () => order.push('c'));
    const failure = q.flush();
    expect(order).toEqual(['a']);
    expect(failure).toMatchObject({ step: 1, op: 'TWO', tag: 'b' });
    expect(failure!.error).toMatchObject({ op: 'TWO', errno: 5 });
  });

  it('an unexpected count runs that step’s follow-up (which names what was refused) or reports EPARTIAL', () => {
    const { p } = port({ 3: 2 });
    const q = new StateIoQueue(() => 0, p);
    q.begin();
    q.call('m', 3, 'KVM_SET_MSRS', undefined, (r) => {
      throw new KvmError('KVM_SET_MSRS', 0, 'EPARTIAL', `took ${r} of 4`);
    }, 4);
    expect(() => q.flush()).toThrow(/took 2 of 4/);
    q.begin();
    q.call('m', 3, 'KVM_SET_MSRS', undefined, undefined, 4);
    expect(q.flush()!.error.message).toMatch(/KVM_SET_MSRS failed: EPARTIAL .*returned 2, expected 4/);
  });
});
