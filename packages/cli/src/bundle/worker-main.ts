/**
 * What a bundled vCPU worker does on start (./worker-entry-x86_64.ts, ./worker-entry-arm64.ts):
 * share its bundle's packages in this thread's isolate too (the plugin modules the machine names
 * are require()d here by name), then run core's worker entry.
 */
import { getEnvironmentData, parentPort } from 'node:worker_threads';
import { shareBundledModules } from './module-sharing';
import { SHARED_FILES_BUFFER_KEY, readSharedFiles } from './prewarm';

/**
 * `packages`: what this worker bundle carries; `archPlugin`: its arch's plugin among them (the
 * one a `kvmts` machine on this bundle's host is built with).
 */
export function runBundledWorker(packages: Readonly<Record<string, () => unknown>>, archPlugin: string): void {
  // Nothing requires a package by name before the machine's first message (its 'build' names the
  // plugin modules): the sharing is done then, before core's handler (registered after this one)
  // sees it. By then the CLI's thread has published the files it resolved, also for a thread it
  // started before it had them (./prewarm.ts); else this thread resolves them itself.
  parentPort!.once('message', () => {
    shareBundledModules(packages, require, readSharedFiles(getEnvironmentData(SHARED_FILES_BUFFER_KEY)));
  });
  // While the thread waits for its machine, it evaluates its arch plugin (the bundle's
  // copy), which the machine's build requires first thing: under an emulated CPU that is about
  // half of the build (scripts/bench/README.md, `boot`), which would otherwise follow the main
  // thread's VM set-up. A machine of the host's arch is what `kvmts` builds; for another the
  // build loads its own as before.
  const load = packages[archPlugin];
  if (load !== undefined) setImmediate(load);
  // Core's worker entry is not among its exports; scripts/bundle/build.js maps this name to
  // core's dist/machine/vcpu-worker.js. Only ever evaluated inside a bundle.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('kvmts-bundle:core-vcpu-worker');
}
