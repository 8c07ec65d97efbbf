/** The 8250/16550A UART (x86-64.md §8), the PC's COM port. */
export * from './registers';
export { Uart8250 } from './device';
export { uartPushInput } from './input';
export * from './plugin';
