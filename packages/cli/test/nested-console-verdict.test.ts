/**
 * How the nested runner reads the emulated host's console (scripts/nested/lib/qemu.js): a panic
 * stops the run at once; soft lockup and RCU stall reports are tolerated up to three (a host
 * starved of CPU by another one beside it reports one and recovers — CI once lost a passing tier
 * that way), the fourth means a wedged kernel, which repeats them.
 */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { consoleVerdict, STALLS_WEDGED } = require('../../../scripts/nested/lib/qemu') as {
  consoleVerdict(line: string, stallsBefore: number): { verdict: 'wedged' | 'stall' | undefined; stalls: number };
  STALLS_WEDGED: number;
};

const LOCKUP = '[  812.402114] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [node:1234]';
const RCU = '[  901.117000] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:';
const PANIC = '[   12.000000] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009';

/** The verdicts of a console's lines, in order, the stall count carried from line to line. */
function verdicts(lines: string[]): (string | undefined)[] {
  let stalls = 0;
  return lines.map((line) => {
    const seen = consoleVerdict(line, stalls);
    stalls = seen.stalls;
    return seen.verdict;
  });
}

describe('nested runner: console verdicts', () => {
  it('ordinary lines mean nothing, a panic is wedged at once', () => {
    expect(verdicts(['[    1.0] Run /init as init process', 'PASS packages/core/test/x.test.ts', PANIC])).toEqual([undefined, undefined, 'wedged']);
  });

  it('tolerates three stall reports of either kind, the fourth is wedged', () => {
    expect(STALLS_WEDGED).toBe(4);
    expect(verdicts([LOCKUP, 'PASS a.test.ts', RCU, LOCKUP, 'ok', LOCKUP])).toEqual(['stall', undefined, 'stall', 'stall', undefined, 'wedged']);
  });

  it('the L2 guest’s own reports, echoed with an [L2] mark, count too', () => {
    expect(verdicts([`[L2] ${LOCKUP}`, `[L2] ${PANIC}`])).toEqual(['stall', 'wedged']);
  });
});
