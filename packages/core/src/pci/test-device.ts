/**
 * The PCI test device: the smallest useful PCI function, for tests and as the example to copy
 * when writing one. It has a 256-byte register file in shared memory, reachable through three
 * BARs that mirror it — so a guest sees the same registers however it reaches them:
 *
 *   BAR0     mem32, 4 KiB         the register file, repeated every 256 bytes
 *   BAR1     io, 32 ports         its first 32 bytes
 *   BAR2/3   mem64, prefetchable  the register file, repeated (size from options, default 16 KiB)
 *
 *   register 0x00  (4 bytes)  read-only PCI_TEST_DEVICE_MAGIC ('KVTS' in memory order)
 *   register 0x04  (4 bytes)  interrupt control: bit 0 is the level of INTA# (write 1 to
 *                             assert, 0 to deassert; reads back as written)
 *   0x08–0xff                 scratch: any width (1, 2, 4, 8), any offset, read back as written
 *
 * Ids: vendor 0x4b56 / device 0x7473 by default (not assigned to any vendor in the PCI ID
 * database, chosen so no guest driver binds to it), class 0xff0000 ("unassigned").
 */
import type { AccessSize, Device, HighWord } from '../bus/device';
import { defineSharedLayout } from '../devices/shared-layout';
import { checkDeviceOptions } from '../devices/device-options';
import { ConfigError } from '../errors/errors';
import type { PciFunction, PciFunctionContext, PciFunctionDescription, PciFunctionPlugin, PciFunctionSpec } from './pci-function';

export const PCI_TEST_DEVICE_VENDOR_ID = 0x4b56;
export const PCI_TEST_DEVICE_DEVICE_ID = 0x7473;
/** Register 0: the bytes 'K', 'V', 'T', 'S' at offsets 0–3. */
export const PCI_TEST_DEVICE_MAGIC = 0x5354564b;
export const PCI_TEST_DEVICE_REGISTER_BYTES = 256;
export const PCI_TEST_DEVICE_BAR_SIZES = { bar0: 0x1000, bar1: 32 } as const;
/** Offset of the interrupt-control register; its bit 0 drives INTA#. */
export const PCI_TEST_DEVICE_INTERRUPT_REGISTER = 0x04;
const INTERRUPT_LEVEL = 1;

export interface PciTestDeviceOptions {
  readonly vendorId?: number;
  readonly deviceId?: number;
  /** Size of the mem64 BAR2, a power of two ≥ 256. Default 16 KiB. */
  readonly bar2Size?: number;
}

const LAYOUT = defineSharedLayout({
  name: 'pci-test-device',
  version: 1,
  fields: { lock: 'lock', registers: { bytes: PCI_TEST_DEVICE_REGISTER_BYTES } },
});

/** Serves one BAR: every BAR is a window onto the same register file. */
class RegisterFileWindow implements Device {
  private readonly view: DataView;

  constructor(
    readonly name: string,
    private readonly state: ReturnType<typeof LAYOUT.bind>,
    private readonly ctx: PciFunctionContext,
  ) {
    this.view = new DataView(state.registers.buffer, state.registers.byteOffset, PCI_TEST_DEVICE_REGISTER_BYTES);
  }

  read(offset: number, size: AccessSize, out: HighWord): number {
    const s = this.state;
    s.lock.acquire();
    try {
      let value = 0;
      let high = 0;
      for (let i = size - 1; i >= 0; i--) {
        const byte = this.view.getUint8((offset + i) % PCI_TEST_DEVICE_REGISTER_BYTES);
        if (i >= 4) high = high * 256 + byte;
        else value = value * 256 + byte;
      }
      out.high = high;
      return value;
    } finally {
      s.lock.release();
    }
  }

  write(offset: number, size: AccessSize, value: number, valueHigh: number): void {
    const s = this.state;
    s.lock.acquire();
    try {
      let interruptWritten = false;
      for (let i = 0; i < size; i++) {
        const at = (offset + i) % PCI_TEST_DEVICE_REGISTER_BYTES;
        if (at < 4) continue; // the magic register is read-only
        this.view.setUint8(at, i < 4 ? (value >>> (8 * i)) & 0xff : (valueHigh >>> (8 * (i - 4))) & 0xff);
        if (at === PCI_TEST_DEVICE_INTERRUPT_REGISTER) interruptWritten = true;
      }
      // In the critical section that changed the level (PciFunctionContext.setInterrupt).
      if (interruptWritten) this.ctx.setInterrupt((this.view.getUint8(PCI_TEST_DEVICE_INTERRUPT_REGISTER) & INTERRUPT_LEVEL) !== 0);
    } finally {
      s.lock.release();
    }
  }
}

function checkedOptions(options: PciTestDeviceOptions | undefined): Required<PciTestDeviceOptions> {
  const o = checkDeviceOptions('pci-test-device', options, ['vendorId', 'deviceId', 'bar2Size']);
  const bar2Size = o.bar2Size ?? 0x4000;
  if (typeof bar2Size !== 'number' || !Number.isSafeInteger(bar2Size) || bar2Size < PCI_TEST_DEVICE_REGISTER_BYTES || !Number.isInteger(Math.log2(bar2Size))) {
    throw new ConfigError('pci-test-device.bar2Size', `must be a power of two ≥ ${PCI_TEST_DEVICE_REGISTER_BYTES}, got ${String(o.bar2Size)}`);
  }
  return { vendorId: o.vendorId ?? PCI_TEST_DEVICE_VENDOR_ID, deviceId: o.deviceId ?? PCI_TEST_DEVICE_DEVICE_ID, bar2Size };
}

export const pciTestDevicePlugin: PciFunctionPlugin<PciTestDeviceOptions> = {
  type: 'pci-test-device',
  validate(options) {
    checkedOptions(options);
  },
  describe(options): PciFunctionDescription {
    const o = checkedOptions(options);
    return {
      vendorId: o.vendorId,
      deviceId: o.deviceId,
      classCode: 0xff0000,
      interruptPin: 1,
      bars: [
        { kind: 'mem32', size: PCI_TEST_DEVICE_BAR_SIZES.bar0 },
        { kind: 'io', size: PCI_TEST_DEVICE_BAR_SIZES.bar1 },
        { kind: 'mem64', size: o.bar2Size, prefetchable: true },
      ],
    };
  },
  sharedLayout() {
    return LAYOUT;
  },
  create(ctx: PciFunctionContext): PciFunction {
    const state = ctx.bindShared(LAYOUT);
    // The magic is state like any register, so a checkpoint carries it; writing it every time an
    // instance is created is idempotent.
    new DataView(state.registers.buffer, state.registers.byteOffset).setUint32(0, PCI_TEST_DEVICE_MAGIC, true);
    const registers = new RegisterFileWindow(`${ctx.name}.registers`, state, ctx);
    return {
      bars: [registers, registers, registers],
      reset() {
        state.lock.acquire();
        try {
          state.registers.fill(0, 4);
          ctx.setInterrupt(false);
        } finally {
          state.lock.release();
        }
      },
    };
  },
};

/** A PciFunctionSpec placing the test device at `device`.`function` on bus 0. */
export function pciTestDevice(slot: { device: number; function?: number; name?: string }, options: PciTestDeviceOptions = {}): PciFunctionSpec<PciTestDeviceOptions> {
  return { type: pciTestDevicePlugin.type, ...slot, options };
}
