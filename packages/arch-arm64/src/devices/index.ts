/** arm64 devices implemented in userspace: the PL011 UART. */
export * from './pl011';
