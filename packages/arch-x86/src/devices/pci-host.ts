/**
 * The PC's PCI host bridge: configuration mechanism #1 (ports 0xCF8–0xCFF) in front of core's
 * arch-neutral PciHost, with its decode windows placed in the x86 address map.
 *
 *   0xCF8  CONFIG_ADDRESS, 32-bit accesses only: bit 31 enable, 23:16 bus, 15:11 device,
 *          10:8 function, 7:2 dword register (bits 30:24 and 1:0 read as 0). Byte and word
 *          accesses to 0xCF8–0xCFB do not touch it (0xCF9 is the reset control register on
 *          real chipsets, not modelled: reads all-ones, writes dropped).
 *   0xCFC  CONFIG_DATA, 0xCFC–0xCFF: a byte, word or dword access at 0xCFC + k reaches config
 *          register (CONFIG_ADDRESS & 0xfc) + k of the addressed function; with the enable bit
 *          clear, or for an absent function or bus, reads are all-ones and writes dropped.
 *
 * The address latch is one register for all vCPUs, as on hardware (guests serialise their
 * config accesses themselves), so it lives in the host's shared state.
 *
 * INTx: pin p of device d reaches PIRQ (d + p − 1) mod 4 (the swizzle of PCI-to-PCI Bridge
 * Architecture §9.1), and PIRQA–D are ISA IRQs 10, 10, 11, 11 — what SeaBIOS programs into the
 * PIIX of QEMU's pc machine, so a guest that expects a PC finds them there; each function's
 * interrupt-line register is preset to its IRQ. Driving them needs the in-kernel irqchip
 * (archOptions.irqchip 'kernel'); the guest sets the 8259's ELCR for level-triggered IRQs.
 *
 * Windows (defaults; `mmioWindow` / `ioWindow` move them): memory BARs decode in
 * 0xe000_0000–0xefff_ffff, inside the 32-bit MMIO hole above RAM (X86_LAYOUT.mmioHoleStart) and
 * below the IOAPIC (0xfec0_0000) and LAPIC (0xfee0_0000) pages; I/O BARs in ports
 * 0xc000–0xffff, clear of the legacy PC ports.
 */
import type { DependencyContainer } from 'tsyringe';
import {
  ConfigError,
  PciHost,
  checkDeviceOptions,
  checkPciWindow,
  pciHostLayout,
  resolvePciFunctions,
  type AccessSize,
  type AddressRange,
  type Device,
  type DeviceContext,
  type DevicePlacement,
  type DevicePlugin,
  type DeviceSpec,
  type HighWord,
  type PciHostOptions,
  type ResolvedPciFunction,
} from '@kvmts/core';
import { ARCH_X86_MODULE } from '../module-name';
import { X86_LAYOUT } from '../layout';

export const PCI_CONFIG_ADDRESS_PORT = 0xcf8;
/** CONFIG_ADDRESS (4 ports) and CONFIG_DATA (4 ports). */
export const PCI_CONFIG_PORT_COUNT = 8;
const DATA_OFFSET = 4;
export const PCI_CONFIG_ENABLE = 0x80000000;
/** CONFIG_ADDRESS bits that hold something: enable, bus, device, function, dword register. */
const CONFIG_ADDRESS_BITS = 0x80fffffc;

export const X86_PCI_DEFAULT_MMIO_WINDOW: AddressRange = { base: X86_LAYOUT.pciMmioWindowBase, size: X86_LAYOUT.pciMmioWindowSize };
export const X86_PCI_DEFAULT_IO_WINDOW: AddressRange = { base: 0xc000, size: 0x4000 };

/** PIRQA–D → ISA IRQ. */
export const X86_PCI_INTX_IRQS: readonly number[] = [10, 10, 11, 11];

/** The ISA IRQ that INTx pin `pin` (1–4) of `device` on bus 0 drives. */
export function x86PciInterruptLine(device: number, pin: number): number {
  return X86_PCI_INTX_IRQS[(device + pin - 1) % X86_PCI_INTX_IRQS.length];
}

const PORT_SPACE_LIMIT = 0x10000;
/** Guest-physical addresses the 32-bit window must stay below: the IOAPIC page and everything above it. */
const MMIO_WINDOW_LIMIT_32 = 0xfec00000;

/** All-ones of an access of `size` bytes. */
function allOnes(size: number): number {
  return size === 4 ? 0xffffffff : 2 ** (8 * size) - 1;
}

/** Mechanism #1: the eight ports. */
class PciConfigPorts implements Device {
  readonly name: string;

  constructor(private readonly host: PciHost) {
    this.name = `${host.name}.config-ports`;
  }

  read(offset: number, size: AccessSize, out: HighWord): number {
    out.high = 0;
    if (offset < DATA_OFFSET) return offset === 0 && size === 4 ? this.host.configAddress : allOnes(size);
    const address = this.host.configAddress;
    if ((address & PCI_CONFIG_ENABLE) === 0) return allOnes(size);
    const k = offset - DATA_OFFSET;
    // A word at 0xCFF reaches past the data port: its upper byte belongs to port 0xD00.
    const inside = Math.min(size, DATA_OFFSET - k);
    const value = this.host.configRead((address >>> 16) & 0xff, (address >>> 11) & 0x1f, (address >>> 8) & 0x7, (address & 0xfc) + k, inside);
    return inside === size ? value : (value + (allOnes(size) - allOnes(inside))) >>> 0;
  }

  write(offset: number, size: AccessSize, value: number, _valueHigh: number): void {
    if (offset < DATA_OFFSET) {
      if (offset === 0 && size === 4) this.host.configAddress = (value & CONFIG_ADDRESS_BITS) >>> 0;
      return;
    }
    const address = this.host.configAddress;
    if ((address & PCI_CONFIG_ENABLE) === 0) return;
    const k = offset - DATA_OFFSET;
    this.host.configWrite((address >>> 16) & 0xff, (address >>> 11) & 0x1f, (address >>> 8) & 0x7, (address & 0xfc) + k, Math.min(size, DATA_OFFSET - k), value);
  }
}

/**
 * The PCI host device: its placement is the config ports, the I/O window (both 'pio') and the
 * MMIO window; `forRange` hands each its own Device. On the main thread `host` gives host-side
 * access (config reads, the decoded BARs) for tests and tools.
 */
export class X86PciHost implements Device {
  readonly name: string;
  readonly host: PciHost;
  private readonly ports: PciConfigPorts;
  private readonly ranges: Record<string, readonly Device[]>;
  // The checkpoint hooks exist only when a function keeps per-thread state (or may refuse): a
  // host whose functions share all their state saves none, as before they existed, so its
  // checkpoints stay what they were.
  readonly saveLocalState?: () => unknown;
  readonly restoreLocalState?: (state: unknown) => void;
  readonly unsaveableReason?: () => string | undefined;

  constructor(ctx: DeviceContext, functions: readonly ResolvedPciFunction[], windows: { mmio: AddressRange; io: AddressRange }) {
    this.name = ctx.name;
    this.host = new PciHost({
      name: ctx.name,
      vcpuId: ctx.vcpuId,
      shared: ctx.shared,
      functions,
      mmioWindow: windows.mmio,
      ioWindow: windows.io,
      interruptLine: x86PciInterruptLine,
      setIrqLine: (line, level) => ctx.setIrqLine(line, level),
    });
    this.ports = new PciConfigPorts(this.host);
    if (this.host.localStateParts.length > 0) {
      const host = this.host;
      this.saveLocalState = () => host.saveLocalState();
      this.restoreLocalState = (state) => host.restoreLocalState(state);
      this.unsaveableReason = () => host.unsaveableReason();
    }
    // In the order of pciHostPlacement's ranges.
    this.ranges = { pio: [this.ports, this.host.windowDevice('io')], mmio: [this.host.windowDevice('mmio')] };
  }

  forRange(space: string, index: number): Device {
    return this.ranges[space]?.[index] ?? this;
  }

  read(offset: number, size: AccessSize, out: HighWord): number {
    return this.ports.read(offset, size, out);
  }

  write(offset: number, size: AccessSize, value: number, valueHigh: number): void {
    this.ports.write(offset, size, value, valueHigh);
  }

  reset(): void {
    this.host.reset();
  }

  afterRestore(): void {
    this.host.afterRestore();
  }
}

/** The PC host has no options beyond the arch-neutral ones; the windows default to the x86 map. */
export type X86PciHostOptions = PciHostOptions;

interface CheckedOptions {
  readonly functions: ResolvedPciFunction[];
  readonly mmio: AddressRange;
  readonly io: AddressRange;
}

function checkedOptions(container: DependencyContainer, options: X86PciHostOptions): CheckedOptions {
  // Required (its functions), unlike other devices' options: nothing is not a default here.
  if (options === undefined) throw new ConfigError('pci-host', 'options must be an object { functions, mmioWindow?, ioWindow? }');
  checkDeviceOptions('pci-host', options, ['functions', 'mmioWindow', 'ioWindow']);
  const mmio = checkPciWindow('pci-host.mmioWindow', options.mmioWindow ?? X86_PCI_DEFAULT_MMIO_WINDOW, Number.MAX_SAFE_INTEGER);
  // RAM below 4 GiB ends at the hole, and RAM above restarts at 4 GiB: a window must sit between.
  if (mmio.base < X86_LAYOUT.mmioHoleStart || (mmio.base < X86_LAYOUT.highRamStart && mmio.base + mmio.size > MMIO_WINDOW_LIMIT_32)) {
    throw new ConfigError('pci-host.mmioWindow', `a 32-bit window must lie within 0x${X86_LAYOUT.mmioHoleStart.toString(16)}–0x${(MMIO_WINDOW_LIMIT_32 - 1).toString(16)} (the MMIO hole below the IOAPIC), got 0x${mmio.base.toString(16)}+0x${mmio.size.toString(16)}`);
  }
  const io = checkPciWindow('pci-host.ioWindow', options.ioWindow ?? X86_PCI_DEFAULT_IO_WINDOW, PORT_SPACE_LIMIT);
  if (io.base < PCI_CONFIG_ADDRESS_PORT + PCI_CONFIG_PORT_COUNT && PCI_CONFIG_ADDRESS_PORT < io.base + io.size) {
    throw new ConfigError('pci-host.ioWindow', `overlaps the configuration ports 0x${PCI_CONFIG_ADDRESS_PORT.toString(16)}–0x${(PCI_CONFIG_ADDRESS_PORT + PCI_CONFIG_PORT_COUNT - 1).toString(16)}`);
  }
  return { functions: resolvePciFunctions(container, options.functions, 'pci-host.functions'), mmio, io };
}

/**
 * The PCI host's DevicePlugin. It is built per container (register it with a factory) because
 * it looks up the PCI function plugins its functions name in that container.
 */
export function pciHostPlugin(container: DependencyContainer): DevicePlugin<X86PciHostOptions> {
  return {
    type: 'pci-host',
    sharedLayout(options) {
      return pciHostLayout(checkedOptions(container, options).functions);
    },
    validate(options) {
      checkedOptions(container, options);
    },
    placement(options): DevicePlacement {
      const { mmio, io } = checkedOptions(container, options);
      return { pio: [{ base: PCI_CONFIG_ADDRESS_PORT, size: PCI_CONFIG_PORT_COUNT }, io], mmio: [mmio] };
    },
    create(ctx, options) {
      const { functions, mmio, io } = checkedOptions(container, options);
      return new X86PciHost(ctx, functions, { mmio, io });
    },
  };
}

/** A DeviceSpec for the PCI host with `functions` on bus 0 (name 'pci-host@0xcf8' unless given). */
export function pciHost(options: X86PciHostOptions, name?: string): DeviceSpec<X86PciHostOptions> {
  return { plugin: ARCH_X86_MODULE, type: 'pci-host', ...(name ? { name } : {}), options };
}
