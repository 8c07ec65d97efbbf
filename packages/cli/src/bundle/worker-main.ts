/**
 * What a bundled vCPU worker does on start (./worker-entry-x86_64.ts, ./worker-entry-arm64.ts):
 * share its bundle's packages in this thread's isolate too (the plugin modules the machine names
 * are require()d here by name), then run core's worker entry.
 */
import { getEnvironmentData } from 'node:worker_threads';
import { SHARED_FILES_KEY, shareBundledModules } from './module-sharing';

export function runBundledWorker(packages: Readonly<Record<string, () => unknown>>): void {
  // The files the CLI's thread resolved (its environment data), else resolved here.
  shareBundledModules(packages, require, getEnvironmentData(SHARED_FILES_KEY) as Record<string, string | null> | undefined);
  // Core's worker entry is not among its exports; scripts/bundle/build.js maps this name to
  // core's dist/machine/vcpu-worker.js. Only ever evaluated inside a bundle.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('kvmts-bundle:core-vcpu-worker');
}
