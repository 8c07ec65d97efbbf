'use strict';
/**
 * Jest reporter used inside the emulated hosts: prints a marker line when each test file and
 * each test starts and ends, so the host runner can show progress and, when the guest hangs
 * (a KVM_RUN that never returns blocks jest's own timeouts), name the test that was running.
 */
const fs = require('fs');
const path = require('path');

/**
 * Straight to the file descriptor, not process.stdout: jest's default reporter buffers stdout and
 * flushes it from a timer, which never runs while a test (or a transpile) keeps the event loop
 * busy; a test stuck in KVM_RUN would then be hidden behind the previous one. stderr is the same
 * console pipe in the guest (init.sh), and a partial write is finished, so a marker is one line.
 */
function say(what) {
  const line = Buffer.from(`@@KVMTS@@ ${what}\n`);
  for (let at = 0; at < line.length;) {
    try {
      at += fs.writeSync(2, line, at);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e; // a non-blocking pipe that is full: the reader drains it
    }
  }
}
const rel = (p) => path.relative(process.cwd(), p).replace(/\s/g, '_');
const name = (r) => [...(r.ancestorTitles ?? []), r.title].join(' › ').replace(/\s+/g, '_');

class ProgressReporter {
  /**
   * The failure summary from the repository (jest's rootDir): this file runs from a copy in the
   * emulated host's run directory, where no relative path leads back to it.
   */
  constructor(globalConfig) {
    this.summarizeFailure = require(path.join(globalConfig.rootDir, 'scripts', 'test', 'lib', 'failures.js')).summarizeFailure;
  }

  onTestStart(test) { say(`suite-start ${rel(test.path)}`); }
  onTestCaseStart(test, info) { say(`test-start ${rel(test.path)} ${name(info)}`); }
  onTestCaseResult(test, result) {
    say(`test-done ${rel(test.path)} ${result.status} ${result.duration ?? 0} ${name(result)}`);
    // One line the host runner repeats at the end, where CI's kept tail will show it.
    if (result.status === 'failed') {
      const title = [...(result.ancestorTitles ?? []), result.title].join(' › ').replace(/\s+/g, ' ');
      say(`test-failed ${rel(test.path)} › ${title}: ${this.summarizeFailure((result.failureMessages ?? []).join('\n'), test.path)}`);
    }
  }
  onTestResult(test, result) {
    // A suite-level error: one that kept the suite from running, or one outside its tests (an
    // afterAll, an error thrown after a test ended), whose text jest keeps in the stack or the
    // suite's failure message rather than in `message`.
    const error = result.testExecError;
    if (error) {
      const ran = result.numPassingTests + result.numFailingTests > 0;
      const text = result.failureMessage || error.stack || error.message || '';
      say(`test-failed ${rel(test.path)}: ${ran ? 'suite error' : 'could not run'}: ${this.summarizeFailure(text, test.path)}`);
    }
    say(`suite-done ${rel(test.path)} ${result.numPassingTests} ${result.numFailingTests} ${result.perfStats?.runtime ?? 0}${result.testExecError ? ' error' : ''}`);
  }
  getLastError() { return undefined; }
}

module.exports = ProgressReporter;
