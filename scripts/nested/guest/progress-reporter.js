'use strict';
/**
 * Jest reporter used inside the emulated hosts: prints a marker line when each test file and
 * each test starts and ends, so the host runner can show progress and, when the guest hangs
 * (a KVM_RUN that never returns blocks jest's own timeouts), name the test that was running.
 */
const path = require('path');

const say = (what) => process.stdout.write(`@@KVMTS@@ ${what}\n`);
const rel = (p) => path.relative(process.cwd(), p).replace(/\s/g, '_');
const name = (r) => [...(r.ancestorTitles ?? []), r.title].join(' › ').replace(/\s+/g, '_');

class ProgressReporter {
  onTestStart(test) { say(`suite-start ${rel(test.path)}`); }
  onTestCaseStart(test, info) { say(`test-start ${rel(test.path)} ${name(info)}`); }
  onTestCaseResult(test, result) { say(`test-done ${rel(test.path)} ${result.status} ${result.duration ?? 0} ${name(result)}`); }
  onTestResult(test, result) {
    say(`suite-done ${rel(test.path)} ${result.numPassingTests} ${result.numFailingTests} ${result.perfStats?.runtime ?? 0}${result.testExecError ? ' error' : ''}`);
  }
  getLastError() { return undefined; }
}

module.exports = ProgressReporter;
