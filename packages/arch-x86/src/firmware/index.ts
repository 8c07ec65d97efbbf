/** Firmware tables a kernel reads at boot: the Intel MP tables and the ACPI tables (power-off, the MADT). */
export * from './pc-wiring';
export * from './mp-table';
export * from './acpi-tables';
export * from './madt';
