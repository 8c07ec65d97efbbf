/**
 * Entry of the bundled vCPU worker (bundle/vcpu-worker.js): the thread the bundled CLI starts
 * for each vCPU. It shares the bundle's packages in this thread's isolate too (the plugin
 * modules the machine names are require()d here by name), then runs core's worker entry.
 */
import 'reflect-metadata';
import { getEnvironmentData } from 'node:worker_threads';
import { BUNDLED_PACKAGES, SHARED_FILES_KEY, shareBundledModules } from './shared-modules';

// The files the CLI's thread resolved (its environment data), else resolved here.
shareBundledModules(BUNDLED_PACKAGES, require, getEnvironmentData(SHARED_FILES_KEY) as Record<string, string | null> | undefined);
// Core's worker entry is not among its exports; scripts/bundle/build.js maps this name to
// core's dist/machine/vcpu-worker.js. Only ever evaluated inside the bundle.
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('kvmts-bundle:core-vcpu-worker');
