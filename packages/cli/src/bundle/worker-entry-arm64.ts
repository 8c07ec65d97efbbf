/**
 * Entry of bundle/vcpu-worker-arm64.js, the vCPU worker of the bundled CLI on an arm64 host: core,
 * the arm64 plugin and its GIC only, so the thread's isolate never reads or parses the x86 plugin.
 */
import 'reflect-metadata';
import { ARM64_PACKAGES } from './packages/arm64';
import { runBundledWorker } from './worker-main';

runBundledWorker(ARM64_PACKAGES, '@kvmts/arch-arm64');
