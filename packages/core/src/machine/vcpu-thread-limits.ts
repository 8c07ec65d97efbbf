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

/** The environment variable that sets the cap, in MiB; 0 leaves V8's default. */
export const VCPU_YOUNG_GENERATION_ENV = 'KVMTS_VCPU_YOUNG_GEN_MB';

/** The default cap on a vCPU thread's young generation, MiB. */
export const DEFAULT_VCPU_YOUNG_GENERATION_MB = 4;

/** The largest cap accepted (V8's own default maximum is below it). */
const MAX_YOUNG_GENERATION_MB = 1024;

/**
 * The resourceLimits for a new vCPU thread under `env`: the young generation capped at
 * KVMTS_VCPU_YOUNG_GEN_MB (default 4) MiB, or none (V8's default) when it is 0. A value that
 * is not a whole number 0–1024 is a ConfigError naming the variable.
 */
export function vcpuThreadResourceLimits(env: NodeJS.ProcessEnv = process.env): ResourceLimits | undefined {
  const raw = env[VCPU_YOUNG_GENERATION_ENV];
  const mb = raw === undefined || raw === '' ? DEFAULT_VCPU_YOUNG_GENERATION_MB : Number(raw);
  if (!Number.isInteger(mb) || mb < 0 || mb > MAX_YOUNG_GENERATION_MB) {
    throw new ConfigError(VCPU_YOUNG_GENERATION_ENV, `must be a whole number of MiB for a vCPU thread's V8 young generation, 0 (V8's default) to ${MAX_YOUNG_GENERATION_MB}, got ${describeValue(raw)}`);
  }
  return mb === 0 ? undefined : { maxYoungGenerationSizeMb: mb };
}
