/** The example interpreter CPU (docs/cpu-switching.md): decoder, arithmetic, the CPU model. */
export * from './decode';
export * from './alu';
export * from './interpreter-cpu';
