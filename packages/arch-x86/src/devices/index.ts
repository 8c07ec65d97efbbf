/**
 * PC devices implemented in userspace: the 16550A UART, the exit device, the PCI host, the m5op
 * window and doorbell, and the boot devices Linux probes — the i8042, port 0x92, the CMOS/RTC and
 * the ACPI PM1 blocks its power-off writes.
 */
export * from './exit-device';
export * from './uart8250';
export * from './pci-host';
export * from './m5ops';
export * from './i8042';
export * from './system-control-port';
export * from './cmos-rtc';
export * from './pc-devices';
export * from './acpi-pm';
