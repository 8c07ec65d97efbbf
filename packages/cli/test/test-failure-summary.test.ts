/**
 * The closing list of failed tests (scripts/test/lib/failures.js): CI keeps only the tail of a
 * run's output, so each failed test is named again there in one line — its title, the first
 * lines of its message, and where in the test file it failed. Golden values from the shapes
 * jest really prints (the message below is CI's mallocTrim failure, as jest --json stored it).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

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

  it('shows a deep-equality failure by its changed lines, not the diff`s header or context; says when there is no message', () => {
    const diff = 'Error: expect(received).toEqual(expected) // deep equality\n\n- Expected  - 1\n+ Received  + 1\n\n  Object {\n-   "a": 1,\n+   "a": 2,\n  }\n' +
      '    at Object.<anonymous> (/repo/my dir/a b.test.ts:12:3)';
    expect(summarizeFailure(diff, '/repo/my dir/a b.test.ts')).toBe('Error: expect(received).toEqual(expected) // deep equality | -   "a": 1, | +   "a": 2, (a b.test.ts:12)');
    expect(summarizeFailure('')).toBe('(no message)');
    // A message line that reads like "at …" but is no frame is message.
    expect(summarizeFailure('at the end, nothing was left', 'x.test.ts')).toBe('at the end, nothing was left');
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
        {
          name: '/tmp/ci/packages/core/test/teardown.test.ts',
          status: 'failed',
          message: '  ● Test suite failed to run\n\n    afterAll: the VM did not close\n\n      at Object.<anonymous> (/tmp/ci/packages/core/test/teardown.test.ts:40:11)',
          assertionResults: [{ status: 'passed', title: 'runs' }],
        },
      ],
    };
    expect(failedTestsOfReport(report, '/tmp/ci')).toEqual([
      'packages/native/test/malloc.test.ts › mallocTrim › gives the free top back: ' +
        'Error: expect(received).toBeLessThan(expected) | Expected: < 65536 | Received:   4329472 (malloc.test.ts:89)',
      "packages/core/test/broken.test.ts: could not run: ● Test suite failed to run | Cannot find module './gone' from 'packages/core/test/broken.test.ts'",
      'packages/core/test/teardown.test.ts: suite error: ● Test suite failed to run | afterAll: the VM did not close (teardown.test.ts:40)',
    ]);
  });
});

describe('the nested tiers` guest reporter (scripts/nested/guest/progress-reporter.js)', () => {
  const REPO = path.resolve(__dirname, '..', '..', '..');
  it('runs from a copy outside the repository (as in an emulated host) and says each failure in one marker line', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-reporter-'));
    try {
      const copy = path.join(dir, 'progress-reporter.js');
      fs.copyFileSync(path.join(REPO, 'scripts', 'nested', 'guest', 'progress-reporter.js'), copy);
      const file = path.join(REPO, 'packages', 'x', 'test', 'a.test.ts');
      const script = `
        const Reporter = require(${JSON.stringify(copy)});
        const r = new Reporter({ rootDir: ${JSON.stringify(REPO)} });
        const test = { path: ${JSON.stringify(file)} };
        r.onTestCaseResult(test, { status: 'passed', ancestorTitles: ['outer'], title: 'passes', duration: 1, failureMessages: [] });
        r.onTestCaseResult(test, { status: 'failed', ancestorTitles: ['outer'], title: 'fails\\n  here', duration: 2,
          failureMessages: ['Error: expect(received).toBe(expected)\\n\\nExpected: 3\\nReceived: 2\\n    at Object.<anonymous> (${file}:7:9)'] });
        // An error in afterAll: jest leaves message empty and keeps the text in the stack.
        r.onTestResult(test, { numPassingTests: 1, numFailingTests: 1, testExecError: { message: '', stack: 'Error: afterAll broke\\n    at ${file}:20:5' } });
        r.onTestResult(test, { numPassingTests: 0, numFailingTests: 0, testExecError: { message: "Cannot find module './gone'", stack: '' } });
      `;
      const r = spawnSync(process.execPath, ['-e', script], { cwd: REPO, encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('@@KVMTS@@ test-failed'))).toEqual([
        '@@KVMTS@@ test-failed packages/x/test/a.test.ts › outer › fails here: Error: expect(received).toBe(expected) | Expected: 3 | Received: 2 (a.test.ts:7)',
        '@@KVMTS@@ test-failed packages/x/test/a.test.ts: suite error: Error: afterAll broke (a.test.ts:20)',
        "@@KVMTS@@ test-failed packages/x/test/a.test.ts: could not run: Cannot find module './gone'",
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
