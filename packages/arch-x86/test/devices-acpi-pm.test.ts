/**
 * The ACPI PM1a blocks (devices/acpi-pm.ts): the register accesses ACPICA makes on the way to
 * S5 — clearing status, programming enable, the two-step SLP_TYP then SLP_TYP|SLP_EN write —
 * and the power-off request that the second one makes.
 */
import { ConfigError, type DeviceContext, type HighWord } from '@kvmts/core';
import { ACPI_PM1, ACPI_S5_SLP_TYP } from '../src/firmware';
import { AcpiPm, acpiPm, acpiPmPlugin, acpiPmPort, type AcpiPmOptions } from '../src/devices';

function make(options: AcpiPmOptions = {}): { dev: AcpiPm; powerOff: number[] } {
  const powerOff: number[] = [];
  const ctx: DeviceContext = {
    name: 'acpi-pm',
    vcpuId: 0,
    shared: new SharedArrayBuffer(acpiPmPlugin.sharedLayout!(options).byteLength),
    consoleWrite: () => undefined,
    requestPowerOff: (status) => powerOff.push(status),
    setIrqLine: () => undefined,
  };
  acpiPmPlugin.validate(options);
  return { dev: acpiPmPlugin.create(ctx, options) as AcpiPm, powerOff };
}

const out: HighWord = { high: 0 };
const S5 = ACPI_S5_SLP_TYP << ACPI_PM1.SLP_TYP_SHIFT;

describe('acpi-pm device', () => {
  it('reads SCI_EN set in PM1 control, and zero status and enable, at any width', () => {
    const { dev } = make();
    expect(dev.read(4, 2, out)).toBe(ACPI_PM1.SCI_EN);
    expect(dev.read(0, 4, out)).toBe(0);
    expect(dev.read(4, 1, out)).toBe(1);
    // Past the sixth port the bus floats high.
    expect(dev.read(4, 4, out)).toBe(0xffff0001);
    expect(out.high).toBe(0);
    // Port I/O is at most 4 bytes: an 8-byte access is taken as its low 4 (the high word stays 0).
    expect(dev.read(2, 8, out)).toBe(0x00010000);
    expect(out.high).toBe(0);
  });

  it('stores enable bits, clears status bits written as 1, keeps SLP_TYP but never reads back SLP_EN', () => {
    const { dev, powerOff } = make();
    dev.write(2, 2, 0x0121, 0);
    expect(dev.read(2, 2, out)).toBe(0x0121);
    expect(dev.read(0, 4, out)).toBe(0x01210000);
    dev.write(0, 2, 0xffff, 0);
    expect(dev.read(2, 2, out)).toBe(0x0121);
    dev.write(3, 1, 0x00, 0);
    expect(dev.read(2, 2, out)).toBe(0x0021);
    dev.write(4, 2, (3 << ACPI_PM1.SLP_TYP_SHIFT) | ACPI_PM1.SLP_EN, 0); // S3: not offered, ignored
    expect(dev.read(4, 2, out)).toBe((3 << ACPI_PM1.SLP_TYP_SHIFT) | ACPI_PM1.SCI_EN);
    expect(powerOff).toEqual([]);
  });

  it("powers off with status 0 on ACPICA's S5 sequence: SLP_TYP first, then SLP_TYP | SLP_EN", () => {
    const { dev, powerOff } = make();
    dev.write(4, 2, ACPI_PM1.SCI_EN | S5, 0);
    expect(powerOff).toEqual([]);
    dev.write(4, 2, ACPI_PM1.SCI_EN | S5 | ACPI_PM1.SLP_EN, 0);
    expect(powerOff).toEqual([0]);
    // The same through the control block's high byte alone (an 8-bit write at +5).
    const b = make();
    b.dev.write(5, 1, (S5 | ACPI_PM1.SLP_EN) >> 8, 0);
    expect(b.powerOff).toEqual([0]);
  });

  it('reset clears the registers', () => {
    const { dev } = make();
    dev.write(2, 2, 0xffff, 0);
    dev.write(4, 2, S5, 0);
    dev.reset();
    expect(dev.read(0, 4, out)).toBe(0);
    expect(dev.read(4, 2, out)).toBe(ACPI_PM1.SCI_EN);
  });

  it('sits at 0x600–0x605 by default, is found among device specs, and rejects bad options by name', () => {
    expect(acpiPmPlugin.placement({})).toEqual({ pio: [{ base: 0x600, size: 6 }] });
    expect(acpiPmPlugin.placement({ port: 0xb000 })).toEqual({ pio: [{ base: 0xb000, size: 6 }] });
    expect(acpiPm({ port: 0xb000 }, 'pm')).toEqual({ plugin: '@kvmts/arch-x86', type: 'acpi-pm', name: 'pm', options: { port: 0xb000 } });
    expect(acpiPmPort([acpiPm()])).toBe(0x600);
    expect(acpiPmPort([])).toBeUndefined();
    expect(acpiPmPort(undefined)).toBeUndefined();
    expect(() => acpiPmPlugin.validate({ port: 0x602 })).toThrow(new ConfigError('acpi-pm.port', 'must be 4-byte aligned (the FADT\'s PM1 event block), got 0x602'));
    expect(() => acpiPmPlugin.validate({ port: 0xfffc })).toThrow(/acpi-pm.port/);
    expect(() => acpiPmPlugin.validate({ irq: 9 } as never)).toThrow(/acpi-pm.irq.*unknown option/);
  });
});
