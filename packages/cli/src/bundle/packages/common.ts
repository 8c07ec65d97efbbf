/**
 * The packages every bundle carries, each with the literal require() that esbuild bundles (in
 * the modular build these load the installed packages). One module per table: esbuild includes
 * every require() of a module it bundles, so a vCPU worker bundle of one arch imports only its
 * own table (./x86_64.ts, ./arm64.ts) and never carries the other arch's plugin.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
export const COMMON_PACKAGES: Readonly<Record<string, () => unknown>> = {
  '@kvmts/native': () => require('@kvmts/native'),
  '@kvmts/core': () => require('@kvmts/core'),
  '@kvmts/core/vcpu-thread-start': () => require('@kvmts/core/vcpu-thread-start'),
  // One tsyringe per process: @injectable() keeps its type info in a module-level map.
  tsyringe: () => require('tsyringe'),
  'reflect-metadata': () => require('reflect-metadata'),
};
