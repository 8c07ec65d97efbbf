/** PC devices implemented in userspace: the 16550A UART, the exit device and the PCI host. */
export * from './exit-device';
export * from './uart8250';
export * from './pci-host';
