/**
 * Entry of bundle/vcpu-worker-start.js, the script each vCPU thread of the bundled CLI starts
 * with: it runs this host's worker bundle beside it (./stamp.ts' WORKER_BUNDLES: core and the
 * host arch's plugin, ./worker-entry-x86_64.ts or ./worker-entry-arm64.ts) compiled with V8's code cache
 * (./code-cache.ts), so a new thread's isolate deserializes the worker's bytecode instead of
 * parsing and compiling it again. Bundled on its own (a few KiB): one small file read first.
 */
import * as path from 'node:path';
import { getEnvironmentData } from 'node:worker_threads';
import { BUNDLE_DIGESTS_KEY, runBundle, type RecordedDigest } from './code-cache';
import { BUNDLE_FILES } from './stamp';

// __dirname is the bundle directory: the build leaves the entries' __dirname alone.
// Its cache is written once the thread has built its vCPU (its first message), when that code is compiled too.
// The build's digests come from dist/bin.js (its stamp), so the thread need not hash its bundle.
const digests = getEnvironmentData(BUNDLE_DIGESTS_KEY) as Record<string, RecordedDigest> | undefined;
runBundle(path.join(__dirname, BUNDLE_FILES.worker), { writeAt: 'first-message', digests });
