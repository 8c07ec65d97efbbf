/** The i8042's shared state (one controller for every vCPU thread) and its power-on values. */
import { defineSharedLayout, type SharedState } from '@kvmts/core';
import { I8042_CTR_POWER_ON, I8042_OUTPUT_PORT_POWER_ON } from './registers';

/** Output queue capacity: bytes waiting behind the one-byte output buffer (a keyboard's own FIFO holds 16). */
export const I8042_QUEUE_BYTES = 16;
/** Controller RAM: 32 bytes, byte 0 the command byte. */
export const I8042_RAM_BYTES = 32;

/** Source tags of queued bytes. */
export const I8042_SOURCE = { KBD: 0, AUX: 1, AUX_TIMEOUT: 2 } as const;

const I8042_FIELDS = {
  lock: 'lock',
  /** Queued output: head index and count into the two rings. */
  queueHead: 'u8',
  queueCount: 'u8',
  /** Controller command waiting for its data byte at 0x60 (0: none). */
  pendingCommand: 'u8',
  /** Keyboard command waiting for its argument byte (0: none). */
  pendingKeyboard: 'u8',
  outputPort: 'u8',
  /** Status bit 3: the last write went to the command port. */
  lastWriteCommand: 'u8',
  /** What 0x60 returns when nothing is queued: the last byte read (the output buffer keeps it). */
  lastOutput: 'u8',
  /** Last levels driven on the keyboard and aux lines, so only changes reach setIrqLine. */
  kbdIrqLevel: 'u8',
  auxIrqLevel: 'u8',
  /** 0 until some instance applied the power-on values (shared memory starts zero-filled). */
  initialized: 'u8',
  ram: { bytes: I8042_RAM_BYTES },
  queueBytes: { bytes: I8042_QUEUE_BYTES },
  queueSources: { bytes: I8042_QUEUE_BYTES },
} as const;

export const i8042Layout = defineSharedLayout({ name: 'i8042', version: 1, fields: I8042_FIELDS });
export type I8042State = SharedState<typeof I8042_FIELDS>;

/** Power-on values. The caller holds the lock. */
export function resetI8042State(s: I8042State): void {
  s.ram.fill(0);
  s.ram[0] = I8042_CTR_POWER_ON;
  s.queueHead = 0;
  s.queueCount = 0;
  s.pendingCommand = 0;
  s.pendingKeyboard = 0;
  s.outputPort = I8042_OUTPUT_PORT_POWER_ON;
  s.lastWriteCommand = 0;
  s.lastOutput = 0;
  s.initialized = 1;
}
