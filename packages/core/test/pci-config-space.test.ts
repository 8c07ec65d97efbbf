/**
 * A function's type-0 configuration space: golden header images before and after the guest
 * writes all-ones everywhere (which shows every register's writable mask), BAR sizing for each
 * kind (mem32, io, mem64 below and above 4 GiB, prefetchable), command bits hardwired by the
 * BARs a function has, write-one-to-clear status, and what the decoded BARs are.
 */
import { ConfigError, PCI_CONFIG_SPACE_SIZE, PciConfigSpace, checkPciFunctionDescription, type PciFunctionDescription } from '@kvmts/core';

const TEST_DEVICE: PciFunctionDescription = {
  vendorId: 0x4b56,
  deviceId: 0x7473,
  classCode: 0xff0000,
  revisionId: 0x02,
  subsystemVendorId: 0x1af4,
  subsystemId: 0x0011,
  interruptPin: 1,
  bars: [{ kind: 'mem32', size: 0x1000 }, { kind: 'io', size: 32 }, { kind: 'mem64', size: 0x4000, prefetchable: true }],
};

function space(d: PciFunctionDescription = TEST_DEVICE, multiFunction = false) {
  const stored = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  return { cs: new PciConfigSpace(d, stored, multiFunction), stored };
}

/** The header's 16 dwords. */
const header = (cs: PciConfigSpace) => Array.from({ length: 16 }, (_, i) => cs.read(4 * i, 4));

describe('PCI config space', () => {
  it('reads the type-0 header of a function just out of reset (golden)', () => {
    const { cs } = space();
    expect(header(cs)).toEqual([
      0x74734b56, // device, vendor
      0x00000000, // status, command
      0xff000002, // class ff/00/00, revision 2
      0x00000000, // BIST, header type 0, latency, cache line
      0x00000000, // BAR0 mem32
      0x00000001, // BAR1 io
      0x0000000c, // BAR2 mem64 prefetchable
      0x00000000, // BAR3 (BAR2's upper half)
      0x00000000,
      0x00000000,
      0x00000000, // cardbus CIS
      0x00111af4, // subsystem id, subsystem vendor
      0x00000000, // expansion ROM: none
      0x00000000, // capabilities pointer
      0x00000000,
      0x00000100, // max-lat, min-gnt, pin INTA#, line 0
    ]);
    expect(cs.read(0x40, 4)).toBe(0);
    expect(cs.read(0xfc, 4)).toBe(0);
  });

  it('keeps only the writable bits of an all-ones write to every register (golden masks, BAR size masks)', () => {
    const { cs } = space();
    for (let reg = 0; reg < PCI_CONFIG_SPACE_SIZE; reg += 4) cs.write(reg, 4, 0xffffffff);
    expect(header(cs)).toEqual([
      0x74734b56,
      0x00000547, // command: I/O, memory, bus master, parity, SERR, INTx disable; status RW1C bits stay 0
      0xff000002,
      0x0000ffff, // latency timer and cache line size
      0xfffff000, // 4 KiB
      0x0000ffe1, // 32 ports, 16-bit I/O space
      0xffffc00c, // 16 KiB, mem64, prefetchable
      0xffffffff, // the upper half: all address bits
      0x00000000,
      0x00000000,
      0x00000000,
      0x00111af4,
      0x00000000,
      0x00000000,
      0x00000000,
      0x000001ff, // interrupt line
    ]);
    expect(cs.read(0x40, 4)).toBe(0);
  });

  it('sizes a mem64 BAR larger than 4 GiB in its upper register, and an I/O BAR of 256 ports', () => {
    const { cs } = space({ vendorId: 1, deviceId: 2, classCode: 0, bars: [{ kind: 'io', size: 256 }, undefined, undefined, undefined, { kind: 'mem64', size: 2 ** 33 }] });
    for (const reg of [0x10, 0x20, 0x24]) cs.write(reg, 4, 0xffffffff);
    expect([cs.read(0x10, 4), cs.read(0x20, 4), cs.read(0x24, 4)]).toEqual([0x0000ff01, 0x00000004, 0xfffffffe]);
  });

  it('hardwires the I/O and memory decode enables of a function without BARs of that kind', () => {
    expect((() => {
      const { cs } = space({ vendorId: 1, deviceId: 2, classCode: 0, bars: [{ kind: 'mem32', size: 16 }] });
      cs.write(0x04, 2, 0xffff);
      return cs.read(0x04, 2);
    })()).toBe(0x0546);
    expect((() => {
      const { cs } = space({ vendorId: 1, deviceId: 2, classCode: 0, bars: [] });
      cs.write(0x04, 2, 0xffff);
      return cs.read(0x04, 2);
    })()).toBe(0x0544);
  });

  it('reads and writes at any width and byte offset, little-endian; bytes past 0xff read all-ones', () => {
    const { cs } = space();
    expect([cs.read(0, 1), cs.read(1, 1), cs.read(1, 2), cs.read(2, 2), cs.read(9, 3)]).toEqual([0x56, 0x4b, 0x734b, 0x7473, 0xff0000]);
    cs.write(0x12, 2, 0xabcd); // BAR0 bits 31:16
    cs.write(0x11, 1, 0x7f); // bits 15:8: only 15:12 are address bits
    expect(cs.read(0x10, 4)).toBe(0xabcd7000);
    expect(cs.read(0xfe, 4)).toBe(0xffff0000);
    cs.write(0xff, 4, 0xffffffff); // does not wrap
    expect(cs.read(0x00, 4)).toBe(0x74734b56);
  });

  it('clears status bits by writing ones (write-one-to-clear) and never sets them from a write', () => {
    const { cs, stored } = space();
    cs.write(0x06, 2, 0xffff);
    expect(cs.read(0x06, 2)).toBe(0);
    stored[0x07] = 0xf9; // as a device recording a master abort / parity error would
    expect(cs.read(0x06, 2)).toBe(0xf900);
    cs.write(0x06, 2, 0x2000); // clear "received master abort" only
    expect(cs.read(0x06, 2)).toBe(0xd900);
    cs.write(0x04, 4, 0x00000002); // a dword at 0x04 writes the command and zeros to status: no change
    expect(cs.read(0x04, 4)).toBe(0xd9000002);
  });

  it('makes the multi-function bit of the header type come from the host', () => {
    expect(space(TEST_DEVICE, true).cs.read(0x0e, 1)).toBe(0x80);
  });

  it('decodes a BAR only while the command register enables its kind', () => {
    const { cs } = space();
    cs.write(0x10, 4, 0xe0000000);
    cs.write(0x14, 4, 0xc000);
    cs.write(0x18, 4, 0x00100000);
    cs.write(0x1c, 4, 0x1);
    expect([0, 1, 2, 3].map((i) => cs.decodedBar(i))).toEqual([undefined, undefined, undefined, undefined]);
    cs.write(0x04, 2, 0x2);
    expect([0, 1, 2, 3].map((i) => cs.decodedBar(i))).toEqual([
      { index: 0, kind: 'mem32', base: 0xe0000000, size: 0x1000 },
      undefined,
      { index: 2, kind: 'mem64', base: 0x100100000, size: 0x4000 },
      undefined,
    ]);
    cs.write(0x04, 2, 0x1);
    expect(cs.decodedBar(0)).toBeUndefined();
    expect(cs.decodedBar(1)).toEqual({ index: 1, kind: 'io', base: 0xc000, size: 32 });
    cs.reset();
    expect(cs.decodedBar(1)).toBeUndefined();
    expect(cs.read(0x14, 4)).toBe(1);
  });

  it('rejects descriptions a type-0 header cannot hold, naming the field', () => {
    const bad: [Partial<PciFunctionDescription>, string, RegExp][] = [
      [{ vendorId: 0x10000 }, 'f.vendorId', /0xffff\]/],
      [{ vendorId: 0xffff }, 'f.vendorId', /no function here/],
      [{ classCode: 0x1000000 }, 'f.classCode', /0xffffff\]/],
      [{ interruptPin: 5 }, 'f.interruptPin', /INTA#–INTD#/],
      [{ bars: [{ kind: 'mem32', size: 0x1800 }] }, 'f.bars[0].size', /power of two/],
      [{ bars: [{ kind: 'io', size: 512 }] }, 'f.bars[0].size', /from 4 to 0x100/],
      [{ bars: [{ kind: 'mem32', size: 8 }] }, 'f.bars[0].size', /from 16/],
      [{ bars: [{ kind: 'io', size: 4, prefetchable: true }] }, 'f.bars[0].prefetchable', /only memory/],
      [{ bars: [{ kind: 'mem64', size: 16 }, { kind: 'io', size: 4 }] }, 'f.bars[1]', /upper half of the mem64 BAR 0/],
      [{ bars: [undefined, undefined, undefined, undefined, undefined, { kind: 'mem64', size: 16 }] }, 'f.bars[5]', /no successor/],
      [{ bars: new Array(7).fill(undefined) }, 'f.bars', /at most 6/],
      [{ bars: [{ kind: 'rom' as 'io', size: 16 }] }, 'f.bars[0].kind', /'mem32', 'mem64' or 'io'/],
    ];
    for (const [patch, setting, message] of bad) {
      let error: unknown;
      try {
        checkPciFunctionDescription('f', { ...TEST_DEVICE, ...patch });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect([(error as ConfigError).setting, (error as ConfigError).message]).toEqual([setting, expect.stringMatching(message)]);
    }
  });
});
