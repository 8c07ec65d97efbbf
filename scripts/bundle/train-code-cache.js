'use strict';
/**
 * Runs one freshly built bundle once so that its V8 code cache is written beside it
 * (packages/cli/src/bundle/code-cache.ts); scripts/bundle/build.js runs it in a child process,
 * on the bundles in a training directory, before the new bundles replace the old ones:
 *
 *   node train-code-cache.js cli <dir>      `kvmts --help` from <dir>/kvmts.js (written at exit)
 *   node train-code-cache.js worker <dir>   one vCPU thread's start from <dir>/vcpu-worker-start.js
 *                                           and one message it answers (written after that)
 *
 * KVMTS_CODE_CACHE_DIR (set by the build) keeps the user's own cache directory out of it, and
 * KVMTS_CODE_CACHE_TRAIN_FOR (set by the build: the bundles' final directory) compiles each bundle
 * under the name it will have there — the cache is keyed by that path. Run by hand without it,
 * the caches made serve only <dir>.
 */
const path = require('path');
const { Worker } = require('worker_threads');

const CLI = path.resolve(__dirname, '..', '..', 'packages', 'cli');
const { runBundle } = require(path.join(CLI, 'dist', 'bundle', 'code-cache.js'));
const { BUNDLE_FILES } = require(path.join(CLI, 'dist', 'bundle', 'stamp.js'));

const [which, dir] = process.argv.slice(2);
if (which === 'cli') {
  const bundle = path.join(dir, BUNDLE_FILES.cli);
  process.argv = [process.argv[0], bundle, '--help'];
  runBundle(bundle, { writeAt: 'exit' });
} else if (which === 'worker') {
  // The thread waits for its machine's messages once started and writes its cache after the
  // first: a call it answers with "serves no vCPU". It is ended once its cache is written.
  const worker = new Worker(path.join(dir, BUNDLE_FILES.workerStart), { stderr: true });
  worker.postMessage({ op: 'call', id: 0, method: 'codeCacheTraining', args: [] });
  let text = '';
  worker.stderr.on('data', (chunk) => {
    text += chunk;
    process.stderr.write(chunk);
    if (/ (written|not written)/.test(text)) void worker.terminate();
  });
  worker.on('error', (e) => {
    process.stderr.write(`${e.stack}\n`);
    process.exitCode = 1;
  });
} else {
  process.stderr.write(`usage: train-code-cache.js cli|worker <bundle dir>, got ${which}\n`);
  process.exitCode = 2;
}
