/** The Arm PrimeCell PL011 UART (arm64.md §8), QEMU virt's and Linux's arm64 console. */
export * from './registers';
export { Pl011 } from './device';
export { pl011PushInput } from './input';
export { pl011Layout } from './state';
export * from './plugin';
