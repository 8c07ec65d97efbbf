/** What the arm64 vCPU worker bundle carries: the common packages, the arm64 plugin and its GIC (./common.ts says why a table per file). */
import { COMMON_PACKAGES } from './common';

/* eslint-disable @typescript-eslint/no-require-imports */
export const ARM64_PACKAGES: Readonly<Record<string, () => unknown>> = {
  ...COMMON_PACKAGES,
  '@kvmts/arch-arm64': () => require('@kvmts/arch-arm64'),
  '@kvmts/dev-gic': () => require('@kvmts/dev-gic'),
  '@kvmts/dev-gic/v3-its': () => require('@kvmts/dev-gic/v3-its'),
  '@kvmts/dev-gic/v2': () => require('@kvmts/dev-gic/v2'),
};
