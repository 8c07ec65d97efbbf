/**
 * Entry of bundle/vcpu-worker-start.js, the script each vCPU thread of the bundled CLI starts
 * with: it runs this host's worker bundle beside it (./stamp.ts' WORKER_BUNDLES: core and the
 * host arch's plugin, ./worker-entry-x86_64.ts or ./worker-entry-arm64.ts) compiled with V8's code cache
 * (./code-cache.ts), so a new thread's isolate deserializes the worker's bytecode instead of
 * parsing and compiling it again. Bundled on its own (a few KiB): one small file read first.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import type * as CodeCache from './code-cache';
import type * as Stamp from './stamp';
import type * as StartupTrace from './startup-trace';

// Node's worker bootstrap ends where this script's first line runs: said before anything else loads.
(require('./startup-trace') as typeof StartupTrace).traceStartup('vCPU thread bootstrapped (Node worker start-up done)');
const path = require('node:path') as typeof import('node:path');
const { getEnvironmentData } = require('node:worker_threads') as typeof import('node:worker_threads');
const { runBundle } = require('./code-cache') as typeof CodeCache;
const { BUNDLE_DIGESTS_KEY, BUNDLE_FILES } = require('./stamp') as typeof Stamp;

// __dirname is the bundle directory: the build leaves the entries' __dirname alone.
// Its cache is written once the thread has built its vCPU (its first message), when that code is compiled too.
// The build's digests come from dist/bin.js (its stamp), so the thread need not hash its bundle.
const digests = getEnvironmentData(BUNDLE_DIGESTS_KEY) as Record<string, CodeCache.RecordedDigest> | undefined;
runBundle(path.join(__dirname, BUNDLE_FILES.worker), { writeAt: 'first-message', digests });
