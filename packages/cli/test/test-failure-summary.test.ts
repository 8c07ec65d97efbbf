/**
 * The closing list of failed tests (scripts/test/lib/failures.js): CI keeps only the tail of a
 * run's output, so each failed test is named again there in one line — its title, the first
 * lines of its message, and where in the test file it failed. Golden values from the shapes
 * jest really prints (the message below is CI's mallocTrim failure, as jest --json stored it).
 */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { summarizeFailure, failedTestsOfReport } = require('../../../scripts/test/lib/failures') as {
  summarizeFailure(message: string, testPath?: string): string;
  failedTestsOfReport(report: unknown, root: string): string[];
};

const EXPECT_FAILURE =
  'Error: \u001b[2mexpect(\u001b[22m\u001b[31mreceived\u001b[39m\u001b[2m).\u001b[22mtoBeLessThan\u001b[2m(\u001b[22m\u001b[32mexpected\u001b[39m\u001b[2m)\u001b[22m\n\n' +
  'Expected: < \u001b[32m65536\u001b[39m\nReceived:   \u001b[31m4329472\u001b[39m\n' +
  '    at Object.<anonymous> (/tmp/ci/packages/native/test/malloc.test.ts:89:35)\n' +
  '    at processTicksAndRejections (node:internal/process/task_queues:95:5)';

describe('summarizeFailure', () => {
  it('keeps the first three lines before the stack, without colours, and the test file\'s line', () => {
    expect(summarizeFailure(EXPECT_FAILURE, '/tmp/ci/packages/native/test/malloc.test.ts')).toBe(
      'Error: expect(received).toBeLessThan(expected) | Expected: < 65536 | Received:   4329472 (malloc.test.ts:89)',
    );
  });

  it('names no line when no frame is in the test file, and clips a long message', () => {
    const long = `Error: ${'x'.repeat(400)}\n    at helper (/repo/lib/helper.js:3:1)`;
    const line = summarizeFailure(long, 'packages/a/test/a.test.ts');
    expect(line).toHaveLength(240);
    expect(line.endsWith('…')).toBe(true);
    expect(summarizeFailure('thrown: "Exceeded timeout of 5000 ms for a test."')).toBe('thrown: "Exceeded timeout of 5000 ms for a test."');
  });
});

describe('failedTestsOfReport', () => {
  it('lists failed tests with their titles and suites that could not run, nothing that passed', () => {
    const report = {
      testResults: [
        {
          name: '/tmp/ci/packages/native/test/malloc.test.ts',
          status: 'failed',
          assertionResults: [
            { status: 'passed', ancestorTitles: ['mallocStats'], title: 'counts', failureMessages: [] },
            { status: 'failed', ancestorTitles: ['mallocTrim'], title: 'gives the free top back', failureMessages: [EXPECT_FAILURE] },
          ],
        },
        { name: '/tmp/ci/packages/core/test/ok.test.ts', status: 'passed', assertionResults: [{ status: 'passed', title: 'fine' }] },
        {
          name: '/tmp/ci/packages/core/test/broken.test.ts',
          status: 'failed',
          message: "  ● Test suite failed to run\n\n    Cannot find module './gone' from 'packages/core/test/broken.test.ts'\n",
          assertionResults: [],
        },
      ],
    };
    expect(failedTestsOfReport(report, '/tmp/ci')).toEqual([
      'packages/native/test/malloc.test.ts › mallocTrim › gives the free top back: ' +
        'Error: expect(received).toBeLessThan(expected) | Expected: < 65536 | Received:   4329472 (malloc.test.ts:89)',
      "packages/core/test/broken.test.ts: could not run: ● Test suite failed to run | Cannot find module './gone' from 'packages/core/test/broken.test.ts'",
    ]);
  });
});
