/** @kvmts/cli — the kvmts command, also usable as a library. This file only re-exports. */
export { buildProgram, main } from './program';
export { runDemo, demoData, DEFAULT_DEMO_BYTES, type DemoOptions, type DemoResult } from './demo';
export { summarize } from './commands/run';
export { capabilityTable } from './commands/caps';
