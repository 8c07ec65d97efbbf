'use strict';
/**
 * One line per failed test, for the end of a test run: CI keeps only the tail of its output,
 * and a failure's details printed minutes earlier (by jest, or on an emulated host's console)
 * are gone from it. Used by run-tiers.js (host tier, from jest --json) and by the nested
 * tiers' guest reporter (scripts/nested/guest/progress-reporter.js), whose lines the nested
 * runner repeats as `failed test: …`.
 */
const path = require('path');

const FAILED_TEST_PREFIX = 'failed test: ';
const MAX_MESSAGE = 240;
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

// jest's deep-equality header ("- Expected  - 1", "+ Received  + 1"): the diff lines after it say more.
const DIFF_HEADER = /^[-+] (Expected|Received)\s+[-+] \d+$/;
// A stack frame: "at fn (file:line:col)" or "at file:line:col".
const FRAME = /^at (?:.* \()?[^()]*:\d+:\d+\)?$/;

/**
 * A failure message in one line: its first three non-empty lines before the stack (jest's
 * "expect(…)" line, then Expected/Received or the first lines of a diff), then where in the test
 * file it was raised. An empty message says so.
 */
function summarizeFailure(message, testPath) {
  const lines = String(message).replace(ANSI, '').split('\n').map((l) => l.trim()).filter(Boolean);
  const firstFrame = lines.findIndex((l) => FRAME.test(l));
  const before = firstFrame < 0 ? lines : lines.slice(0, firstFrame);
  // A diff: its first line, then its first changed lines ("- expected", "+ received"), not the context.
  const shown = before.some((l) => DIFF_HEADER.test(l))
    ? [before[0], ...before.slice(1).filter((l) => !DIFF_HEADER.test(l) && /^[-+]/.test(l))]
    : before;
  const text = shown.slice(0, 3).join(' | ') || '(no message)';
  const base = testPath ? path.basename(testPath) : undefined;
  const frame = base && lines.find((l) => FRAME.test(l) && l.includes(`/${base}:`));
  // The file's name and line: what follows its last '/' up to the column.
  const at = frame ? /([^(/]+:\d+):\d+\)?$/.exec(frame) : null;
  const clipped = text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text;
  return at ? `${clipped} (${at[1]})` : clipped;
}

/** The failed tests of a `jest --json` report, one line each, paths relative to `root`. */
function failedTestsOfReport(report, root) {
  const out = [];
  for (const suite of report.testResults ?? []) {
    const file = path.relative(root, suite.name);
    const failed = (suite.assertionResults ?? []).filter((a) => a.status === 'failed');
    for (const a of failed) {
      out.push(`${file} › ${[...(a.ancestorTitles ?? []), a.title].join(' › ')}: ${summarizeFailure((a.failureMessages ?? []).join('\n'), file)}`);
    }
    // A suite that failed with no failed test: it could not run, or failed outside its tests (an
    // afterAll); its message says why.
    if (failed.length === 0 && suite.status === 'failed') {
      const ran = (suite.assertionResults ?? []).length > 0;
      out.push(`${file}: ${ran ? 'suite error' : 'could not run'}: ${summarizeFailure(suite.message ?? '', file)}`);
    }
  }
  return out;
}

module.exports = { FAILED_TEST_PREFIX, summarizeFailure, failedTestsOfReport };
