#!/usr/bin/env node
/**
 * The kvmts command: the bundled CLI (one file for the CLI and one for its vCPU worker, so Node
 * reads and compiles two files instead of ~250) when it is built and current, else the modular
 * program. KVMTS_CLI_BUNDLE=0 forces the modular one, =1 the bundle (./bundle/stamp.ts).
 * Only the freshness check loads before that choice; a command that makes a machine then starts
 * its vCPU threads (./bundle/prewarm.ts), and the bundle runs with V8's code cache
 * (KVMTS_CODE_CACHE=0 turns it off).
 */
import * as path from 'node:path';
import { BUNDLE_DIGESTS_KEY, BUNDLE_FILES, chooseCliBuild } from './bundle/stamp';
import { startEarlyVcpuThreadsFor, vcpuThreadsToPrewarm, workerThreads } from './bundle/prewarm';
import { traceStartup } from './bundle/startup-trace';
import { installStdioRules } from './stdio';

/* eslint-disable @typescript-eslint/no-require-imports */
// Before anything can make process.stdout or process.stderr (a vCPU thread started with piped
// output reads both): the CLI then knows whether a stream exists (./stdio.ts).
installStdioRules();
// `kvmts boot --memory-steps`: the process as Node started it, before any of kvmts loads. The
// module is read only then: every other start reads no more files than it must (bundle.test.ts).
if (process.argv.includes('--memory-steps')) (require('./memory-steps') as typeof import('./memory-steps')).startMemorySteps(process.argv);

const build = chooseCliBuild(path.resolve(__dirname, '..'), process.env.KVMTS_CLI_BUNDLE);
if (build.kind === 'error') {
  process.stderr.write(`kvmts: ${build.message}\n`);
  process.exitCode = 1;
} else if (build.kind === 'bundle') {
  // A command with vCPU threads starts them now, before the CLI bundle (or even the code-cache
  // loader) is read: Node's worker bootstrap then runs beside this thread's whole start-up
  // (./bundle/prewarm.ts). Handed first (environment data, copied when a thread starts): the
  // build's digests of both bundles, so that no thread hashes its bundle for the cache's key
  // (./bundle/worker-start.ts). A command without them (a one-vCPU boot on this thread, --help)
  // never loads worker_threads.
  if (vcpuThreadsToPrewarm(process.argv) > 0) {
    if (build.digests) workerThreads().setEnvironmentData(BUNDLE_DIGESTS_KEY, build.digests);
    const threads = startEarlyVcpuThreadsFor(process.argv, path.join(path.dirname(build.file), BUNDLE_FILES.workerStart));
    if (threads > 0) traceStartup(`${threads} vCPU thread(s) started`);
  }
  const { CODE_CACHE_ENV, cliProfile, codeCacheSetting, runBundle } = require('./bundle/code-cache') as typeof import('./bundle/code-cache');
  const setting = codeCacheSetting(process.env[CODE_CACHE_ENV]);
  if (typeof setting === 'object') {
    process.stderr.write(`kvmts: ${setting.error}\n`);
    process.exitCode = 1;
  } else {
    // Compiled with V8's code cache when one matches this bundle and this Node, this command's
    // own when there is one (./bundle/code-cache.ts).
    runBundle(build.file, { writeAt: 'exit', profile: cliProfile(process.argv), digests: build.digests });
  }
} else {
  require('reflect-metadata');
  void (require('./program') as typeof import('./program')).main(process.argv);
}
