/**
 * The packages the bundled CLI shares (./module-sharing.ts): both arch tables, so the CLI's own
 * bundle carries every kvmts package. Every entry of the @kvmts packages' `exports` maps is here
 * (bundle.test.ts checks it). A vCPU worker bundle carries only its arch's table.
 */
import { ARM64_PACKAGES } from './packages/arm64';
import { X86_64_PACKAGES } from './packages/x86_64';

export const BUNDLED_PACKAGES: Readonly<Record<string, () => unknown>> = { ...X86_64_PACKAGES, ...ARM64_PACKAGES };

export { shareBundledModules } from './module-sharing';
