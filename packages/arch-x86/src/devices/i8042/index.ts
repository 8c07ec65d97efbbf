/** The 8042 keyboard controller (x86-64.md §9): Linux's probe, keyboard commands, `reboot=k`. */
export * from './registers';
export { I8042, type I8042Lines } from './device';
export { I8042Controller } from './controller';
export { i8042Layout, I8042_QUEUE_BYTES, I8042_RAM_BYTES, I8042_SOURCE } from './state';
export * from './plugin';
