/**
 * Entry of the bundled CLI (bundle/kvmts.js, built from this file's compiled form by
 * scripts/bundle/build.js). dist/bin.js loads it when it is current (./stamp.ts). It shares the
 * bundle's packages with any module outside it, points core's vCPU threads at the bundled
 * worker beside it, then runs the same program as the modular CLI.
 */
import 'reflect-metadata';
import * as path from 'node:path';
import { setEnvironmentData } from 'node:worker_threads';
import { useVcpuWorkerScript } from '@kvmts/core';
import { BUNDLED_PACKAGES, SHARED_FILES_KEY, shareBundledModules } from './shared-modules';
import { BUNDLE_FILES } from './stamp';
import { main } from '../program';

// The vCPU threads share the same files: they get them with their environment data.
setEnvironmentData(SHARED_FILES_KEY, shareBundledModules(BUNDLED_PACKAGES));
// __dirname here is the bundle's own directory: the build leaves the entries' __dirname alone.
useVcpuWorkerScript(path.join(__dirname, BUNDLE_FILES.worker));
void main(process.argv);
