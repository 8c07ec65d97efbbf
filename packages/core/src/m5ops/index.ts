/** gem5's pseudo-instructions: the op table, the vCPU-thread calls and the machine's handlers. */
export * from './m5op-table';
export * from './m5op-memory';
export * from './m5op-files';
export * from './m5op-guest-calls';
export * from './m5op-stats';
export * from './m5op-handlers';
