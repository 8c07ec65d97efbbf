/**
 * The 8042 keyboard controller's programming interface as a PC guest sees it (x86-64.md §9):
 * its two ports, the status and command-byte bits, and the controller and keyboard commands
 * kvmts answers. Values from the IBM PC/AT technical reference, as Linux's i8042 and atkbd
 * drivers use them.
 */

/** The data port (read: output buffer; write: input buffer, data) and the status/command port. */
export const I8042_DATA_PORT = 0x60;
export const I8042_COMMAND_PORT = 0x64;

/** Status register (read at 0x64). */
export const I8042_STATUS = {
  /** Output buffer full: a byte waits at 0x60. */
  OBF: 0x01,
  /** Input buffer full: never set — kvmts takes every byte at once. */
  IBF: 0x02,
  /** System flag: mirrors command-byte bit 2 (set after a passed self-test). */
  SYS: 0x04,
  /** The last write went to 0x64 (a command), not to 0x60 (data). */
  CMD: 0x08,
  /** Keyboard not inhibited (the keylock is open). */
  UNLOCKED: 0x10,
  /** The byte in the output buffer comes from the auxiliary (mouse) port. */
  AUXDATA: 0x20,
  /** General timeout: the last byte sent to a device got no answer (no device there). */
  TIMEOUT: 0x40,
} as const;

/** Command byte (controller RAM byte 0). */
export const I8042_CTR = {
  /** Keyboard output raises IRQ 1. */
  KBDINT: 0x01,
  /** Auxiliary output raises IRQ 12. */
  AUXINT: 0x02,
  /** System flag (POST passed). */
  SYS: 0x04,
  /** Keyboard clock disabled. */
  KBDDIS: 0x10,
  /** Auxiliary clock disabled. */
  AUXDIS: 0x20,
  /** Translate keyboard scan codes to set 1. */
  XLATE: 0x40,
} as const;

/** Command byte at power-on: keyboard interrupt enabled, system flag set (Firecracker's value). */
export const I8042_CTR_POWER_ON = I8042_CTR.KBDINT | I8042_CTR.SYS;

/**
 * Output port (0xD0 reads it, 0xD1 writes it). Bit 0 is the CPU reset line, active low: writing
 * it 0 — or pulsing it with command 0xFE — resets the machine (Linux's `reboot=k`).
 */
export const I8042_OUTPUT_PORT = { RESET_LINE: 0x01, A20: 0x02 } as const;
export const I8042_OUTPUT_PORT_POWER_ON = I8042_OUTPUT_PORT.RESET_LINE | I8042_OUTPUT_PORT.A20;

/** Controller commands written to 0x64 (0x20–0x3F and 0x60–0x7F address the controller's RAM). */
export const I8042_CMD = {
  READ_RAM: 0x20,
  WRITE_RAM: 0x60,
  AUX_DISABLE: 0xa7,
  AUX_ENABLE: 0xa8,
  AUX_TEST: 0xa9,
  SELF_TEST: 0xaa,
  KBD_TEST: 0xab,
  KBD_DISABLE: 0xad,
  KBD_ENABLE: 0xae,
  READ_INPUT_PORT: 0xc0,
  READ_OUTPUT_PORT: 0xd0,
  WRITE_OUTPUT_PORT: 0xd1,
  WRITE_KBD_OUTPUT: 0xd2,
  WRITE_AUX_OUTPUT: 0xd3,
  WRITE_AUX_DEVICE: 0xd4,
  A20_DISABLE: 0xdd,
  A20_ENABLE: 0xdf,
  READ_TEST_INPUTS: 0xe0,
  /** 0xF0–0xFF pulse the output-port bits whose command bits 3:0 are 0; 0xFE pulses the reset line. */
  PULSE_FIRST: 0xf0,
  PULSE_RESET: 0xfe,
} as const;

/** Answers of the controller's tests. */
export const I8042_ANSWER = { SELF_TEST_PASSED: 0x55, INTERFACE_OK: 0x00, INPUT_PORT: 0x80 } as const;

/** Keyboard (PS/2 device) answers. */
export const KBD_REPLY = { ACK: 0xfa, RESEND: 0xfe, BAT_OK: 0xaa, ECHO: 0xee } as const;

/** What the keyboard answers to each command byte written to 0x60; `argument`: it takes a byte after it (acknowledged). */
export interface KeyboardCommand {
  readonly name: string;
  readonly reply: readonly number[];
  readonly argument?: boolean;
}

/**
 * The keyboard commands an MF2 keyboard answers (what Linux's atkbd sends). Get-ID's second
 * byte is 0x83, or 0x41 when the controller translates (XLATE), as a real 8042 passes it on.
 * Any other byte gets RESEND, as an unknown command does on a real keyboard.
 */
export const KEYBOARD_COMMANDS: ReadonlyMap<number, KeyboardCommand> = new Map([
  [0xed, { name: 'set-leds', reply: [KBD_REPLY.ACK], argument: true }],
  [0xee, { name: 'echo', reply: [KBD_REPLY.ECHO] }],
  [0xf0, { name: 'scan-code-set', reply: [KBD_REPLY.ACK], argument: true }],
  [0xf2, { name: 'get-id', reply: [KBD_REPLY.ACK, 0xab, 0x83] }],
  [0xf3, { name: 'set-typematic', reply: [KBD_REPLY.ACK], argument: true }],
  [0xf4, { name: 'enable', reply: [KBD_REPLY.ACK] }],
  [0xf5, { name: 'disable', reply: [KBD_REPLY.ACK] }],
  [0xf6, { name: 'set-defaults', reply: [KBD_REPLY.ACK] }],
  [0xff, { name: 'reset', reply: [KBD_REPLY.ACK, KBD_REPLY.BAT_OK] }],
]);

/** Get-ID's second byte through a translating controller. */
export const KBD_ID_TRANSLATED = 0x41;
