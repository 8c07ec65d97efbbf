/** Firmware tables a kernel reads at boot: the Intel MP tables and the ACPI tables for power-off. */
export * from './mp-table';
export * from './acpi-tables';
