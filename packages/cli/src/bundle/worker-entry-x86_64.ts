/**
 * Entry of bundle/vcpu-worker-x86_64.js, the vCPU worker of the bundled CLI on an x86-64 host:
 * core and the x86 plugin only, so the thread's isolate never reads or parses the arm64 plugin
 * and its GIC (a fifth of the worker: ~1 MiB less per vCPU thread; scripts/bench/README.md).
 */
import 'reflect-metadata';
import { X86_64_PACKAGES } from './packages/x86_64';
import { runBundledWorker } from './worker-main';

runBundledWorker(X86_64_PACKAGES, '@kvmts/arch-x86');
