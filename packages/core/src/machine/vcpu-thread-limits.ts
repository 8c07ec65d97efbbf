/**
 * The V8 limits a vCPU thread's isolate starts with (worker_threads `resourceLimits`).
 *
 * Only one is set: the young generation. A vCPU thread allocates in bursts — building its CPU
 * and devices, a guest's boot that exits hundreds of thousands of times — and V8 answers a
 * burst by growing the young generation's semi-spaces up to their default maximum (16 MiB of
 * pages for the two on 64-bit). Those pages stay resident afterwards, garbage or not, although
 * the thread's live objects are a few MiB and what an exit allocates dies at once. A 4 MiB
 * young generation keeps that part of the thread at 4 MiB (scripts/bench/README.md, `boot`:
 * ~10 MiB less per vCPU thread) at the price of more, and smaller, scavenges, which cost about
 * what the survivors cost to copy: nothing measurable per exit.
 */
import type { ResourceLimits } from 'node:worker_threads';
import { ConfigError } from '../errors/errors';
import { describeValue } from '../errors/describe-value';
import { MAX_YOUNG_GENERATION_MB, VCPU_YOUNG_GENERATION_ENV, resourceLimitsFor, vcpuYoungGenerationSetting } from './vcpu-thread-start';

// The setting itself lives in vcpu-thread-start.ts, which loads nothing else of core (a program
// starts vCPU threads with it before core has loaded); these names stay core's API here.
export { DEFAULT_VCPU_YOUNG_GENERATION_MB, VCPU_YOUNG_GENERATION_ENV } from './vcpu-thread-start';

/**
 * The resourceLimits for a new vCPU thread under `env`: the young generation capped at
 * KVMTS_VCPU_YOUNG_GEN_MB (default 4) MiB, or none (V8's default) when it is 0. A value that
 * is not a whole number 0–1024 is a ConfigError naming the variable.
 */
export function vcpuThreadResourceLimits(env: NodeJS.ProcessEnv = process.env): ResourceLimits | undefined {
  const mb = vcpuYoungGenerationSetting(env);
  if (mb === undefined) {
    const raw = env[VCPU_YOUNG_GENERATION_ENV];
    throw new ConfigError(VCPU_YOUNG_GENERATION_ENV, `must be a whole number of MiB for a vCPU thread's V8 young generation, 0 (V8's default) to ${MAX_YOUNG_GENERATION_MB}, got ${describeValue(raw)}`);
  }
  return resourceLimitsFor(mb);
}
