import * as fs from 'node:fs';
import * as path from 'node:path';
import { arm64MachineFdt, buildFdt, fdtProp, vgicV3Frames } from '../src';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('FDT writer', () => {
  it('writes header, empty reservation map, structure and strings blocks byte for byte', () => {
    const dtb = buildFdt({ name: '', properties: [fdtProp.u32('a', 0x12345678)] });
    // Hand-assembled from the Devicetree Specification v0.4 §5: 40 + 16 + 32 + 2 bytes.
    const header = 'd00dfeed' + '0000005a' + '00000038' + '00000058' + '00000028' + '00000011' + '00000010' + '00000000' + '00000002' + '00000020';
    const rsvmap = '00'.repeat(16);
    const struct = '00000001' + '00000000' + '00000003' + '00000004' + '00000000' + '12345678' + '00000002' + '00000009';
    expect(hex(dtb)).toBe(header + rsvmap + struct + '6100');
  });

  it('pads names and values to 4 bytes, stores each property name once, and encodes every value kind', () => {
    const dtb = buildFdt({
      name: '',
      children: [
        { name: 'n@1', properties: [fdtProp.string('s', 'abcd'), fdtProp.empty('e'), fdtProp.u64('r', 0x1_0000_0002n), fdtProp.strings('s', 'x', 'y')] },
      ],
    });
    const v = new DataView(dtb.buffer);
    const structOff = v.getUint32(8);
    const strings = Buffer.from(dtb.subarray(v.getUint32(12), v.getUint32(12) + v.getUint32(32))).toString('latin1');
    expect(strings).toBe('s\0e\0r\0');
    const struct = hex(dtb.subarray(structOff, structOff + v.getUint32(36)));
    expect(struct).toBe(
      '00000001' + '00000000' + // root
        '00000001' + hex(Buffer.from('n@1\0')) +
        '00000003' + '00000005' + '00000000' + hex(Buffer.from('abcd\0')) + '000000' +
        '00000003' + '00000000' + '00000002' +
        '00000003' + '00000008' + '00000004' + '00000001' + '00000002' +
        '00000003' + '00000004' + '00000000' + hex(Buffer.from('x\0y\0')) +
        '00000002' + '00000002' + '00000009',
    );
  });

  it('writes memory reservations and the boot CPU', () => {
    const dtb = buildFdt({ name: '' }, { bootCpuId: 3, reservations: [{ address: 0x4000_0000, size: 0x1000 }] });
    const v = new DataView(dtb.buffer);
    expect(v.getUint32(28)).toBe(3);
    expect(hex(dtb.subarray(40, 72))).toBe('0000000040000000' + '0000000000001000' + '00'.repeat(16));
    expect(v.getUint32(8)).toBe(72);
  });
});

describe('the arm64 machine devicetree', () => {
  it('matches the golden DTB of a 2-vCPU machine (dtc decompiles it to test/fixtures/machine-2cpu.dts)', () => {
    const dtb = arm64MachineFdt({
      memory: [{ base: 0x4000_0000, size: 0x800_0000 }],
      mpidrs: [0x8000_0000n, 0x8000_0001n],
      gic: vgicV3Frames(2),
      timer: true,
      uarts: [{ base: 0x0900_0000, spi: 1 }],
      bootargs: 'console=ttyAMA0 quiet',
      initrd: { start: 0x4700_0000, end: 0x4780_0000 },
    });
    expect(Buffer.from(dtb).equals(fs.readFileSync(path.join(__dirname, 'fixtures', 'machine-2cpu.dtb')))).toBe(true);
  });

  it('leaves out the GIC, the timer and interrupt properties without an in-kernel GIC, and uses two reg cells for Aff3', () => {
    const dtb = Buffer.from(arm64MachineFdt({ memory: [{ base: 0x4000_0000, size: 0x10_0000 }], mpidrs: [0x1_8000_0000n], timer: false, uarts: [{ base: 0x0900_0000 }] }));
    const text = dtb.toString('latin1');
    for (const absent of ['intc@', 'arm,armv8-timer', 'interrupt-parent', 'interrupts', 'bootargs', 'linux,initrd-start']) expect(text).not.toContain(absent);
    expect(text).toContain('cpu@100000000');
    expect(text).toContain('/pl011@9000000');
  });
});
