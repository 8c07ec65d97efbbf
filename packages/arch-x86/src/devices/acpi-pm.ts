/**
 * The ACPI PM1a register blocks (ACPI 6.4 §4.8.3), just enough for Linux's power-off: the
 * firmware tables (firmware/acpi-tables.ts) name them in the FADT, and Linux's `poweroff` writes
 * SLP_TYP = the \_S5 value with SLP_EN to the control register, which ends the run as a power-off
 * with status 0. Six ports from `port`:
 *
 *   +0  PM1 status  (16 bits) write 1 to clear; nothing ever sets a bit (no ACPI events here)
 *   +2  PM1 enable  (16 bits) stored and read back
 *   +4  PM1 control (16 bits) SCI_EN reads 1 (always in ACPI mode: the FADT has no SMI command
 *                             port); SLP_EN is write-only; SLP_TYP and the rest are stored
 *
 * Any width at any offset works byte lane by byte lane, as ACPICA reads the 32-bit event block
 * as two 16-bit registers. Shared state: the three registers and a lock.
 */
import {
  ConfigError,
  DeferredEffects,
  defineSharedLayout,
  type AccessSize,
  type Device,
  type DeviceContext,
  type DevicePlacement,
  type DevicePlugin,
  type DeviceSpec,
  type HighWord,
} from '@kvmts/core';
import { ACPI_PM1, ACPI_S5_SLP_TYP } from '../firmware/acpi-tables';
import { ARCH_X86_MODULE } from '../module-name';
import { checkKnownKeys, checkPortBase } from './options';

export interface AcpiPmOptions {
  /** First of the six ports (the event block; the control block follows). Default 0x600, as on QEMU's PCs. */
  readonly port?: number;
}

export const ACPI_PM_DEFAULT_PORT = 0x600;
export const ACPI_PM_PORT_COUNT = ACPI_PM1.EVT_LEN + ACPI_PM1.CNT_LEN;

const LAYOUT = defineSharedLayout({ name: 'acpi-pm', version: 1, fields: { lock: 'lock', status: 'u32', enable: 'u32', control: 'u32' } });
/** The registers by byte offset: which 16-bit register a lane belongs to. */
const REGISTERS = [
  { name: 'status', at: 0 },
  { name: 'enable', at: 2 },
  { name: 'control', at: 4 },
] as const;

/** Byte lanes of an access: port I/O is at most 4 bytes wide (`in`/`out` of a dword). */
const lanes = (size: AccessSize) => Math.min(size, 4);

export class AcpiPm implements Device {
  readonly name: string;
  private readonly state: ReturnType<typeof LAYOUT.bind>;
  private readonly effects = new DeferredEffects();

  constructor(private readonly ctx: DeviceContext) {
    this.name = ctx.name;
    this.state = LAYOUT.bind(ctx.shared);
  }

  /** The 16-bit value a read of register `name` sees. */
  private visible(name: (typeof REGISTERS)[number]['name']): number {
    if (name === 'control') return (this.state.control & ~ACPI_PM1.SLP_EN) | ACPI_PM1.SCI_EN;
    return this.state[name];
  }

  read(offset: number, size: AccessSize, out: HighWord): number {
    out.high = 0;
    const s = this.state;
    s.lock.acquire();
    try {
      let value = 0;
      for (let lane = 0; lane < lanes(size); lane++) {
        const at = offset + lane;
        const reg = REGISTERS.find((r) => at >= r.at && at < r.at + 2);
        // Past the six ports: the bus floats high.
        const byte = reg ? (this.visible(reg.name) >> (8 * (at - reg.at))) & 0xff : 0xff;
        value |= byte << (8 * lane);
      }
      return value >>> 0;
    } finally {
      s.lock.release();
    }
  }

  write(offset: number, size: AccessSize, value: number, _valueHigh: number): void {
    const s = this.state;
    s.lock.acquire();
    try {
      let controlWritten = false;
      for (let lane = 0; lane < lanes(size); lane++) {
        const at = offset + lane;
        const reg = REGISTERS.find((r) => at >= r.at && at < r.at + 2);
        if (!reg) continue;
        const shift = 8 * (at - reg.at);
        const byte = ((value >>> (8 * lane)) & 0xff) << shift;
        if (reg.name === 'status') s.status &= ~byte; // write 1 to clear
        else s[reg.name] = (s[reg.name] & ~(0xff << shift)) | byte;
        controlWritten ||= reg.name === 'control';
      }
      if (controlWritten && s.control & ACPI_PM1.SLP_EN) {
        const slpTyp = (s.control & ACPI_PM1.SLP_TYP_MASK) >> ACPI_PM1.SLP_TYP_SHIFT;
        // Only S5 is offered (the DSDT has no other \_Sx package): any other type is ignored.
        if (slpTyp === ACPI_S5_SLP_TYP) this.effects.requestPowerOff(0);
        s.control &= ~ACPI_PM1.SLP_EN;
      }
    } finally {
      s.lock.release();
      this.effects.deliver(this.ctx);
    }
  }

  reset(): void {
    const s = this.state;
    s.lock.acquire();
    s.status = 0;
    s.enable = 0;
    s.control = 0;
    s.lock.release();
  }
}

function checkOptions(options: AcpiPmOptions | undefined): Required<AcpiPmOptions> {
  const o = options ?? {};
  if (typeof o !== 'object' || o === null) throw new ConfigError('acpi-pm', 'options must be an object');
  checkKnownKeys('acpi-pm', o, ['port']);
  const port = checkPortBase('acpi-pm.port', o.port ?? ACPI_PM_DEFAULT_PORT, ACPI_PM_PORT_COUNT);
  if (port % 4 !== 0) throw new ConfigError('acpi-pm.port', `must be 4-byte aligned (the FADT's PM1 event block), got 0x${port.toString(16)}`);
  return { port };
}

export const acpiPmPlugin: DevicePlugin<AcpiPmOptions> = {
  type: 'acpi-pm',
  sharedLayout() {
    return LAYOUT;
  },
  validate(options) {
    checkOptions(options);
  },
  placement(options): DevicePlacement {
    return { pio: [{ base: checkOptions(options).port, size: ACPI_PM_PORT_COUNT }] };
  },
  create(ctx, options) {
    checkOptions(options);
    return new AcpiPm(ctx);
  },
};

/** A DeviceSpec for the PM1a blocks at `options.port` (default 0x600). */
export function acpiPm(options: AcpiPmOptions = {}, name?: string): DeviceSpec<AcpiPmOptions> {
  return { plugin: ARCH_X86_MODULE, type: acpiPmPlugin.type, ...(name ? { name } : {}), options };
}

/** The port of the acpi-pm device among `devices`, or undefined when there is none. */
export function acpiPmPort(devices: readonly DeviceSpec[] | undefined): number | undefined {
  const spec = devices?.find((d) => d.plugin === ARCH_X86_MODULE && d.type === acpiPmPlugin.type) as DeviceSpec<AcpiPmOptions> | undefined;
  return spec ? checkOptions(spec.options).port : undefined;
}
