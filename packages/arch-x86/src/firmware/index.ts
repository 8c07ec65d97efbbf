/** Firmware tables a kernel reads at boot: the Intel MP tables. */
export * from './mp-table';
