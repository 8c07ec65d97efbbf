/** PC devices implemented in userspace: the 16550A UART, the exit device, the PCI host and the m5op window and doorbell. */
export * from './exit-device';
export * from './uart8250';
export * from './pci-host';
export * from './m5ops';
