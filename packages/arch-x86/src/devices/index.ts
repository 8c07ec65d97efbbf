/** PC devices implemented in userspace: the 16550A UART and the exit device. */
export * from './exit-device';
export * from './uart8250';
