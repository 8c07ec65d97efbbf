/**
 * What each byte a guest writes to or reads from the i8042 does: the controller's commands,
 * its RAM (byte 0 the command byte), the output port with the CPU reset line, and a keyboard
 * that answers its commands. No auxiliary device is attached: the aux port's own commands work
 * (enable, disable, interface test, loopback through 0xD3, so Linux's probe finds the port),
 * and a byte sent to the aux device (0xD4) answers at once with a timeout error instead of
 * making the driver wait. Pure logic on the shared state; the caller holds the lock, updates
 * the interrupt lines after the access and performs the reset request after releasing it.
 */
import {
  I8042_ANSWER,
  I8042_CMD,
  I8042_CTR,
  I8042_OUTPUT_PORT,
  I8042_STATUS,
  KBD_ID_TRANSLATED,
  KBD_REPLY,
  KEYBOARD_COMMANDS,
} from './registers';
import { I8042_QUEUE_BYTES, I8042_SOURCE, type I8042State } from './state';

type Source = (typeof I8042_SOURCE)[keyof typeof I8042_SOURCE];

/** Controller commands that answer one byte at once, computed from the state. */
const ANSWERING_COMMANDS: ReadonlyMap<number, (s: I8042State) => number> = new Map([
  [I8042_CMD.AUX_TEST, () => I8042_ANSWER.INTERFACE_OK],
  [I8042_CMD.SELF_TEST, () => I8042_ANSWER.SELF_TEST_PASSED],
  [I8042_CMD.KBD_TEST, () => I8042_ANSWER.INTERFACE_OK],
  [I8042_CMD.READ_INPUT_PORT, () => I8042_ANSWER.INPUT_PORT],
  [I8042_CMD.READ_OUTPUT_PORT, (s: I8042State) => s.outputPort],
  [I8042_CMD.READ_TEST_INPUTS, () => 0],
]);

/** Controller commands that change one command-byte bit. */
const COMMAND_BYTE_COMMANDS: ReadonlyMap<number, { readonly bit: number; readonly set: boolean }> = new Map([
  [I8042_CMD.AUX_DISABLE, { bit: I8042_CTR.AUXDIS, set: true }],
  [I8042_CMD.AUX_ENABLE, { bit: I8042_CTR.AUXDIS, set: false }],
  [I8042_CMD.KBD_DISABLE, { bit: I8042_CTR.KBDDIS, set: true }],
  [I8042_CMD.KBD_ENABLE, { bit: I8042_CTR.KBDDIS, set: false }],
]);

/** Controller commands whose data byte follows at 0x60. */
const DATA_COMMANDS: ReadonlySet<number> = new Set([
  I8042_CMD.WRITE_OUTPUT_PORT,
  I8042_CMD.WRITE_KBD_OUTPUT,
  I8042_CMD.WRITE_AUX_OUTPUT,
  I8042_CMD.WRITE_AUX_DEVICE,
]);

export class I8042Controller {
  /** Set by an access that asked for a system reset; the device takes it after the access. */
  resetRequested = false;

  constructor(private readonly s: I8042State) {}

  /** Status register (0x64). */
  readStatus(): number {
    const s = this.s;
    // AUXDATA and TIMEOUT describe the byte in the output buffer; an empty buffer has neither.
    const source = s.queueCount > 0 ? s.queueSources[s.queueHead] : I8042_SOURCE.KBD;
    return (
      (s.queueCount > 0 ? I8042_STATUS.OBF : 0) |
      (s.ram[0] & I8042_CTR.SYS ? I8042_STATUS.SYS : 0) |
      (s.lastWriteCommand ? I8042_STATUS.CMD : 0) |
      I8042_STATUS.UNLOCKED |
      (source !== I8042_SOURCE.KBD ? I8042_STATUS.AUXDATA : 0) |
      (source === I8042_SOURCE.AUX_TIMEOUT ? I8042_STATUS.TIMEOUT : 0)
    );
  }

  /** Output buffer (0x60): the next queued byte, or the last one again when nothing is queued. */
  readData(): number {
    const s = this.s;
    if (s.queueCount === 0) return s.lastOutput;
    s.lastOutput = s.queueBytes[s.queueHead];
    s.queueHead = (s.queueHead + 1) % I8042_QUEUE_BYTES;
    s.queueCount--;
    return s.lastOutput;
  }

  /** A command written to 0x64. */
  writeCommand(cmd: number): void {
    const s = this.s;
    s.lastWriteCommand = 1;
    // A new command abandons one still waiting for its data byte, as on the real part.
    s.pendingCommand = 0;
    if (cmd >= I8042_CMD.READ_RAM && cmd < I8042_CMD.READ_RAM + 0x20) {
      this.queue(s.ram[cmd & 0x1f], I8042_SOURCE.KBD);
      return;
    }
    if ((cmd >= I8042_CMD.WRITE_RAM && cmd < I8042_CMD.WRITE_RAM + 0x20) || DATA_COMMANDS.has(cmd)) {
      s.pendingCommand = cmd;
      return;
    }
    const answer = ANSWERING_COMMANDS.get(cmd);
    if (answer !== undefined) {
      this.queue(answer(s), I8042_SOURCE.KBD);
      return;
    }
    const ctrBit = COMMAND_BYTE_COMMANDS.get(cmd);
    if (ctrBit !== undefined) {
      s.ram[0] = ctrBit.set ? s.ram[0] | ctrBit.bit : s.ram[0] & ~ctrBit.bit;
      return;
    }
    if (cmd === I8042_CMD.A20_DISABLE || cmd === I8042_CMD.A20_ENABLE) {
      s.outputPort = cmd === I8042_CMD.A20_ENABLE ? s.outputPort | I8042_OUTPUT_PORT.A20 : s.outputPort & ~I8042_OUTPUT_PORT.A20;
      return;
    }
    // 0xF0–0xFF pulse low the output-port bits 3:0 whose command bits are 0: bit 0 is the reset line.
    if (cmd >= I8042_CMD.PULSE_FIRST && (cmd & I8042_OUTPUT_PORT.RESET_LINE) === 0) this.resetRequested = true;
    // Anything else (vendor commands, 0xA1 version, password commands) is ignored, as Firecracker does.
  }

  /** A byte written to 0x60: a pending controller command's data, else a byte for the keyboard. */
  writeData(value: number): void {
    const s = this.s;
    s.lastWriteCommand = 0;
    const cmd = s.pendingCommand;
    s.pendingCommand = 0;
    if (cmd === 0) {
      this.keyboardByte(value);
      return;
    }
    if (cmd >= I8042_CMD.WRITE_RAM && cmd < I8042_CMD.WRITE_RAM + 0x20) {
      s.ram[cmd & 0x1f] = value;
      return;
    }
    switch (cmd) {
      case I8042_CMD.WRITE_OUTPUT_PORT:
        s.outputPort = value;
        // The reset line is active low: writing it 0 resets the CPU (QEMU does the same).
        if ((value & I8042_OUTPUT_PORT.RESET_LINE) === 0) this.resetRequested = true;
        return;
      case I8042_CMD.WRITE_KBD_OUTPUT:
        this.queue(value, I8042_SOURCE.KBD);
        return;
      case I8042_CMD.WRITE_AUX_OUTPUT:
        this.queue(value, I8042_SOURCE.AUX);
        return;
      default:
        // WRITE_AUX_DEVICE: no device on the aux port — the controller times out at once.
        this.queue(KBD_REPLY.RESEND, I8042_SOURCE.AUX_TIMEOUT);
    }
  }

  /** Whether the keyboard (IRQ 1) and aux (IRQ 12) outputs are asserted: a byte waits and its interrupt is enabled. */
  keyboardInterrupt(): boolean {
    const s = this.s;
    return s.queueCount > 0 && s.queueSources[s.queueHead] === I8042_SOURCE.KBD && (s.ram[0] & I8042_CTR.KBDINT) !== 0;
  }

  auxInterrupt(): boolean {
    const s = this.s;
    return s.queueCount > 0 && s.queueSources[s.queueHead] !== I8042_SOURCE.KBD && (s.ram[0] & I8042_CTR.AUXINT) !== 0;
  }

  private keyboardByte(value: number): void {
    const s = this.s;
    if (s.pendingKeyboard !== 0) {
      // The argument of set-leds, set-typematic or scan-code-set.
      s.pendingKeyboard = 0;
      this.queue(KBD_REPLY.ACK, I8042_SOURCE.KBD);
      return;
    }
    const command = KEYBOARD_COMMANDS.get(value);
    if (command === undefined) {
      this.queue(KBD_REPLY.RESEND, I8042_SOURCE.KBD);
      return;
    }
    if (command.argument) s.pendingKeyboard = value;
    const translated = (s.ram[0] & I8042_CTR.XLATE) !== 0;
    command.reply.forEach((byte, i) => this.queue(translated && value === 0xf2 && i === 2 ? KBD_ID_TRANSLATED : byte, I8042_SOURCE.KBD));
  }

  /** Append a byte to the output queue; a full queue drops it (the keyboard's buffer overran). */
  private queue(byte: number, source: Source): void {
    const s = this.s;
    if (s.queueCount === I8042_QUEUE_BYTES) return;
    const at = (s.queueHead + s.queueCount) % I8042_QUEUE_BYTES;
    s.queueBytes[at] = byte;
    s.queueSources[at] = source;
    s.queueCount++;
  }
}
