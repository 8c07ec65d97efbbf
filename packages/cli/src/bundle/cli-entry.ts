/**
 * Entry of the bundled CLI (bundle/kvmts.js, built from this file's compiled form by
 * scripts/bundle/build.js). dist/bin.js loads it when it is current (./stamp.ts), having started
 * the command's first vCPU threads already (./prewarm.ts). It shares the bundle's packages with
 * any module outside it, points core's vCPU threads at the bundled worker beside it, then runs
 * the same program as the modular CLI.
 */
import 'reflect-metadata';
import * as path from 'node:path';
import { useVcpuWorkerScript } from '@kvmts/core';
import { BUNDLED_PACKAGES, shareBundledModules } from './shared-modules';
import { BUNDLE_FILES } from './stamp';
import { publishSharedFiles, sharedFilesBuffer, vcpuThreadsToPrewarm } from './prewarm';
import { main } from '../program';

// The vCPU threads share the same files: they read them from the buffer every thread is handed.
// Only for a command with vCPU threads (dist/bin.js has started them): the buffer lives in
// worker_threads' environment data, which a one-vCPU boot on this thread never loads (a vCPU
// thread started without it resolves the files itself).
const sharedFiles = shareBundledModules(BUNDLED_PACKAGES);
if (vcpuThreadsToPrewarm(process.argv) > 0) publishSharedFiles(sharedFilesBuffer(), sharedFiles);
// __dirname here is the bundle's own directory: the build leaves the entries' __dirname alone.
// A vCPU thread starts in the small loader that runs the worker bundle with its code cache
// (the script dist/bin.js started the early threads with: core's pool adopts them by it).
useVcpuWorkerScript(path.join(__dirname, BUNDLE_FILES.workerStart));
void main(process.argv);
