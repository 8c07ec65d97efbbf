/**
 * The vCPU threads' V8 limits (machine/vcpu-thread-limits.ts): the young-generation cap from
 * KVMTS_VCPU_YOUNG_GEN_MB, and that a thread started with it really runs under that cap.
 */
import { Worker } from 'node:worker_threads';
import { ConfigError, DEFAULT_VCPU_YOUNG_GENERATION_MB, VCPU_YOUNG_GENERATION_ENV, vcpuThreadResourceLimits } from '@kvmts/core';

describe('vcpuThreadResourceLimits', () => {
  it('caps the young generation at 4 MiB by default', () => {
    expect(DEFAULT_VCPU_YOUNG_GENERATION_MB).toBe(4);
    expect(vcpuThreadResourceLimits({})).toEqual({ maxYoungGenerationSizeMb: 4 });
    expect(vcpuThreadResourceLimits({ [VCPU_YOUNG_GENERATION_ENV]: '' })).toEqual({ maxYoungGenerationSizeMb: 4 });
  });

  it('takes another cap from the environment, and 0 as V8 own default (no limits)', () => {
    expect(VCPU_YOUNG_GENERATION_ENV).toBe('KVMTS_VCPU_YOUNG_GEN_MB');
    expect(vcpuThreadResourceLimits({ KVMTS_VCPU_YOUNG_GEN_MB: '16' })).toEqual({ maxYoungGenerationSizeMb: 16 });
    expect(vcpuThreadResourceLimits({ KVMTS_VCPU_YOUNG_GEN_MB: '1024' })).toEqual({ maxYoungGenerationSizeMb: 1024 });
    expect(vcpuThreadResourceLimits({ KVMTS_VCPU_YOUNG_GEN_MB: '0' })).toBeUndefined();
  });

  it.each(['-1', '2.5', 'lots', '1025', '4M'])('refuses %p with a ConfigError naming the variable and the value', (bad) => {
    let err: unknown;
    try {
      vcpuThreadResourceLimits({ KVMTS_VCPU_YOUNG_GEN_MB: bad });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('KVMTS_VCPU_YOUNG_GEN_MB');
    expect((err as Error).message).toContain(bad);
  });

  it('a thread started with the limits keeps its young generation within the cap under allocation', async () => {
    // Allocate ~100 MB of short-lived objects, some kept: V8 would grow the semi-spaces to its
    // default maximum (16 MiB of pages on 64-bit) without the cap.
    const code = `
      const v8 = require('node:v8');
      const keep = [];
      for (let i = 0; i < 2e6; i++) { const o = { a: i, b: [i, i + 1] }; if (i % 50 === 0) keep.push(o); }
      const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
      require('node:worker_threads').parentPort.postMessage({ young: young.space_size, limits: require('node:worker_threads').resourceLimits, kept: keep.length });`;
    const run = (limits: ReturnType<typeof vcpuThreadResourceLimits>) =>
      new Promise<{ young: number; limits: { maxYoungGenerationSizeMb: number }; kept: number }>((resolve, reject) => {
        const w = new Worker(code, { eval: true, resourceLimits: limits });
        w.once('message', (m) => {
          void w.terminate();
          resolve(m);
        });
        w.once('error', reject);
      });
    const capped = await run(vcpuThreadResourceLimits({}));
    expect(capped.kept).toBe(40_000);
    expect(capped.limits.maxYoungGenerationSizeMb).toBe(4);
    expect(capped.young).toBeLessThanOrEqual(4 * 1024 * 1024);
    const uncapped = await run(vcpuThreadResourceLimits({ KVMTS_VCPU_YOUNG_GEN_MB: '0' }));
    expect(uncapped.young).toBeGreaterThan(4 * 1024 * 1024);
  });
});
