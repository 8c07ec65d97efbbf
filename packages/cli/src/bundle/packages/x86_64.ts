/** What the x86-64 vCPU worker bundle carries: the common packages and the x86 plugin (./common.ts says why a table per file). */
import { COMMON_PACKAGES } from './common';

/* eslint-disable @typescript-eslint/no-require-imports */
export const X86_64_PACKAGES: Readonly<Record<string, () => unknown>> = {
  ...COMMON_PACKAGES,
  '@kvmts/arch-x86': () => require('@kvmts/arch-x86'),
};
