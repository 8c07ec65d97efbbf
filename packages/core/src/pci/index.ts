/** PCI: the type-0 config header, config space, the host with its decode windows, the test device. */
export * from './config-header';
export * from './pci-function';
export * from './config-space';
export * from './pci-host';
export * from './test-device';
