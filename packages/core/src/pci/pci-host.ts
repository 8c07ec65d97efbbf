/**
 * The PCI host: bus 0 with the functions registered on it, their configuration spaces, and the
 * decode of their BARs — arch-neutral. An arch reaches it through its configuration mechanism
 * (x86: ports 0xCF8/0xCFC in arch-x86; arm64: ECAM later) and places its two decode windows.
 *
 * Decode across threads. Every vCPU thread has its own buses and its own PciHost instance, but a
 * BAR the guest programs on vCPU 0 must answer on vCPU 1 too. The host therefore claims two
 * fixed *windows* on the thread's buses (an MMIO range and an I/O-port range, like a host
 * bridge's forwarding windows), and behind each window keeps a per-thread AddressBus holding the
 * BARs decoded there. Config space lives in shared memory with a generation counter that every
 * config write bumps; a window access first compares the generation with the one its bus was
 * built from and rebuilds the bus when they differ (one Atomics.load per access otherwise). So
 * a BAR appears on every thread's bus once the guest enables decode and programs it, and leaves
 * it when the guest moves it or turns decode off. An access in a window that no BAR claims is a
 * master abort, as on a real PCI bus: reads return all-ones, writes are dropped.
 *
 * A BAR is mapped only when it lies wholly inside the window of its kind (a host bridge forwards
 * only its windows); a BAR that overlaps one mapped before it (in function order, then BAR
 * order) stays unmapped until the guest resolves the conflict.
 *
 * INTx. The arch routes each (device, pin) to an interrupt line (`interruptLine`), and the host
 * presets each function's interrupt-line register to it, as firmware would. A function drives
 * its pin with `ctx.setInterrupt`; the host keeps every function's level in shared state, ORs
 * the functions that share a line, masks those whose command register has interrupt-disable
 * set, and changes the line only when that OR changes — under the host lock, so levels reach the
 * interrupt controller in order (lock order: a function's lock, then the host's; the host never
 * takes a function's lock).
 */
import type { DependencyContainer } from 'tsyringe';
import { AddressBus, UNCLAIMED } from '../bus/address-bus';
import type { AddressRange } from '../bus/address-range';
import type { AccessSize, Device, HighWord } from '../bus/device';
import { defineSharedLayout, type SharedFieldKind, type SharedLayout } from '../devices/shared-layout';
import type { SharedLock } from '../devices/shared-lock';
import { ConfigError } from '../errors/errors';
import { PCI_BAR_COUNT, PCI_CONFIG_SPACE_SIZE, PCI_DEVICES_PER_BUS, PCI_FUNCTIONS_PER_DEVICE, PCI_TYPE0_HEADER } from './config-header';
import { PciConfigSpace, checkPciFunctionDescription, type PciDecodedBar } from './config-space';
import { findPciFunctionPlugin, type PciFunction, type PciFunctionDescription, type PciFunctionPlugin, type PciFunctionSpec } from './pci-function';
import { pciLocalStateParts, pciUnsaveableReason, restorePciLocalState, savePciLocalState, type PciLocalStatePart } from './pci-local-state';

/** The arch-neutral part of a PCI host's options. */
export interface PciHostOptions {
  /** The functions on bus 0. */
  readonly functions: readonly PciFunctionSpec[];
  /** Guest-physical range where memory BARs decode. Each arch has a default. */
  readonly mmioWindow?: AddressRange;
  /** I/O-space range where I/O BARs decode (x86 ports). Each arch has a default. */
  readonly ioWindow?: AddressRange;
}

/** A function spec checked and looked up: what every thread builds the same way. */
export interface ResolvedPciFunction {
  readonly spec: PciFunctionSpec;
  readonly name: string;
  readonly device: number;
  readonly function: number;
  readonly plugin: PciFunctionPlugin;
  readonly description: PciFunctionDescription;
  readonly layout: SharedLayout | undefined;
}

function checkSlot(setting: string, value: unknown, count: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= count) {
    throw new ConfigError(setting, `must be an integer in [0, ${count - 1}], got ${String(value)}`);
  }
  return value;
}

/**
 * Check `functions` (slots in range and unique, function 0 present in every device used, names
 * unique, each plugin's options and description) against the PCI function plugins registered in
 * `container`. `setting` prefixes error names, e.g. 'devices[pci-host].functions'.
 */
export function resolvePciFunctions(container: DependencyContainer, functions: readonly PciFunctionSpec[], setting: string): ResolvedPciFunction[] {
  if (!Array.isArray(functions)) throw new ConfigError(setting, 'must be an array of PciFunctionSpec (use a helper such as pciTestDevice())');
  const slots = new Set<number>();
  const names = new Set<string>();
  const resolved = functions.map((spec, i) => {
    const at = `${setting}[${i}]`;
    if (typeof spec !== 'object' || spec === null || typeof spec.type !== 'string') throw new ConfigError(at, 'must be a PciFunctionSpec { type, device, function?, options }');
    const device = checkSlot(`${at}.device`, spec.device, PCI_DEVICES_PER_BUS);
    const fn = checkSlot(`${at}.function`, spec.function ?? 0, PCI_FUNCTIONS_PER_DEVICE);
    const slot = device * PCI_FUNCTIONS_PER_DEVICE + fn;
    if (slots.has(slot)) throw new ConfigError(`${at}.device`, `device ${device} function ${fn} is taken by another function`);
    slots.add(slot);
    const name = spec.name ?? `${spec.type}@${device}.${fn}`;
    if (names.has(name)) throw new ConfigError(`${at}.name`, `duplicate PCI function name '${name}'`);
    names.add(name);
    const plugin = findPciFunctionPlugin(container, spec.type, `${at}.type`);
    plugin.validate(spec.options);
    const description = plugin.describe(spec.options);
    checkPciFunctionDescription(`${at}(${name})`, description);
    return { spec, name, device, function: fn, plugin, description, layout: plugin.sharedLayout?.(spec.options) };
  });
  for (const [i, f] of resolved.entries()) {
    // Scans probe function 0 and look further only when it says multi-function (PCI 3.0 §6.2.1).
    if (f.function !== 0 && !slots.has(f.device * PCI_FUNCTIONS_PER_DEVICE)) {
      throw new ConfigError(`${setting}[${i}].function`, `device ${f.device} has function ${f.function} but no function 0, so no scan would find it`);
    }
  }
  return resolved;
}

/** Check a decode window: an aligned-enough, non-empty range below `limit`. */
export function checkPciWindow(setting: string, window: AddressRange, limit: number): AddressRange {
  if (typeof window !== 'object' || window === null) throw new ConfigError(setting, 'must be { base, size }');
  const { base, size } = window;
  if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(size) || size <= 0 || base + size > limit) {
    throw new ConfigError(setting, `must be a non-empty range below 0x${limit.toString(16)}, got base=${String(base)} size=${String(size)}`);
  }
  return { base, size };
}

function alignUp4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/**
 * The host's shared state: its lock, the decode generation, the config address latch of an
 * indirect mechanism (x86 0xCF8), 256 bytes of config space per function, each function's INTx
 * level, then each function's own layout (at a 4-byte-aligned offset, bound with `layout.bind(shared, offset)`).
 */
export function pciHostLayout(functions: readonly ResolvedPciFunction[]): SharedLayout {
  const fields: Record<string, SharedFieldKind> = {
    lock: 'lock',
    generation: 'atomic-u32',
    configAddress: 'atomic-u32',
    /** 0 until the first instance presets the interrupt-line registers (power-on, after reset). */
    initialized: 'atomic-u32',
    config: { bytes: PCI_CONFIG_SPACE_SIZE * functions.length },
    /** Each function's INTx level as it drives it (1 asserted), before interrupt-disable masks it. */
    intx: { bytes: alignUp4(functions.length) },
  };
  for (const [i, f] of functions.entries()) fields[`function${i}`] = { bytes: alignUp4(f.layout?.byteLength ?? 0) };
  // The layout's identity covers its functions: a checkpoint restores only into the same set.
  const signature = functions.map((f) => `${f.device}.${f.function}:${f.spec.type}/${f.layout ? `${f.layout.name}v${f.layout.version}` : '-'}`).join(',');
  return defineSharedLayout({ name: `pci-host[${signature}]`, version: 1, fields });
}

interface HostState {
  readonly lock: SharedLock;
  generation: number;
  configAddress: number;
  initialized: number;
  readonly config: Uint8Array;
  readonly intx: Uint8Array;
}

interface HostedFunction {
  readonly index: number;
  readonly resolved: ResolvedPciFunction;
  readonly config: PciConfigSpace;
  readonly instance: PciFunction;
  /** Where its INTx pin is routed; undefined without a pin or a route. */
  readonly line: number | undefined;
}

/** Which window: memory BARs decode in 'mmio', I/O BARs in 'io'. */
export type PciWindowKind = 'mmio' | 'io';

/** Arguments of PciHost, from the arch's host device. */
export interface PciHostInit {
  /** Device instance name (prefixes the names of the windows and BAR mappings). */
  readonly name: string;
  readonly vcpuId: number;
  /** The device's shared buffer, `pciHostLayout(functions).byteLength` bytes. */
  readonly shared: SharedArrayBuffer;
  readonly functions: readonly ResolvedPciFunction[];
  readonly mmioWindow: AddressRange;
  readonly ioWindow: AddressRange;
  /** The arch's INTx routing: the interrupt line of `pin` (1–4) of `device`; undefined: not routed. */
  readonly interruptLine?: (device: number, pin: number) => number | undefined;
  /** Drive an interrupt line (the device context's `setIrqLine`). */
  readonly setIrqLine?: (line: number, level: boolean) => void;
}

/** The interrupt-line register's "unknown / no connection" value on x86 (PCI 3.0 §6.2.4). */
const LINE_UNKNOWN = 0xff;

/** Config reads of an absent function, bus or register return all-ones (PCI 3.0 §6.1). */
const ALL_ONES = 0xffffffff;

export class PciHost {
  readonly name: string;
  private readonly state: HostState;
  /** By device * 8 + function; undefined where nothing is registered. */
  private readonly slots: (HostedFunction | undefined)[] = new Array<HostedFunction | undefined>(PCI_DEVICES_PER_BUS * PCI_FUNCTIONS_PER_DEVICE);
  private readonly hosted: HostedFunction[] = [];
  private readonly windows: Record<PciWindowKind, AddressRange>;
  /** Per thread: the BARs decoded in each window, rebuilt when the generation moves. */
  private buses: Record<PciWindowKind, AddressBus>;
  private builtFrom = -1;
  private localParts: PciLocalStatePart[] | undefined;
  /** Window accesses no BAR claimed (master aborts), in this thread. */
  masterAborts = 0;
  private readonly setIrqLine: (line: number, level: boolean) => void;

  constructor(init: PciHostInit) {
    this.name = init.name;
    const layout = pciHostLayout(init.functions);
    // The layout's table is built at run time (a field per function), so bind() returns the
    // generic state type; HostState names the fixed fields every host layout has.
    this.state = layout.bind(init.shared) as unknown as HostState;
    this.windows = { mmio: init.mmioWindow, io: init.ioWindow };
    this.setIrqLine = init.setIrqLine ?? (() => undefined);
    const multi = new Set(init.functions.filter((f) => f.function !== 0).map((f) => f.device));
    const intx = this.state.intx;
    for (const [i, f] of init.functions.entries()) {
      const stored = this.state.config.subarray(i * PCI_CONFIG_SPACE_SIZE, (i + 1) * PCI_CONFIG_SPACE_SIZE);
      const offset = layout.fields[`function${i}`].offset;
      const pin = f.description.interruptPin ?? 0;
      const line = pin === 0 ? undefined : init.interruptLine?.(f.device, pin);
      const config = new PciConfigSpace(f.description, stored, multi.has(f.device), () => intx[i] !== 0);
      // Built before the instance so its setInterrupt closure has the function to act on (a
      // function may drive its pin from create); `instance` is filled in right after.
      const hosted: { -readonly [K in keyof HostedFunction]: HostedFunction[K] } = { index: i, resolved: f, config, instance: { bars: [] }, line };
      hosted.instance = f.plugin.create(
        {
          name: f.name,
          vcpuId: init.vcpuId,
          bindShared: (fnLayout) => fnLayout.bind(init.shared, offset),
          setInterrupt: (asserted) => this.setInterrupt(hosted, asserted),
        },
        f.spec.options,
      );
      this.slots[f.device * PCI_FUNCTIONS_PER_DEVICE + f.function] = hosted;
      this.hosted.push(hosted);
    }
    this.buses = this.emptyBuses();
    const s = this.state;
    s.lock.acquire();
    try {
      if (s.initialized === 0) this.presetInterruptLines();
    } finally {
      s.lock.release();
    }
  }

  /** Power-on: each function's interrupt-line register names its route, as firmware leaves it. Under the lock. */
  private presetInterruptLines(): void {
    for (const f of this.hosted) {
      if ((f.resolved.description.interruptPin ?? 0) === 0) continue;
      f.config.write(PCI_TYPE0_HEADER.interruptLine.offset, 1, f.line !== undefined && f.line < LINE_UNKNOWN ? f.line : LINE_UNKNOWN);
    }
    this.state.initialized = 1;
  }

  /** Whether any function routed to `line` has its INTx asserted and not masked. Under the lock. */
  private lineLevel(line: number): boolean {
    const intx = this.state.intx;
    return this.hosted.some((f) => f.line === line && intx[f.index] !== 0 && f.config.interruptEnabled());
  }

  private setInterrupt(f: HostedFunction, asserted: boolean): void {
    const s = this.state;
    s.lock.acquire();
    try {
      const before = f.line !== undefined && this.lineLevel(f.line);
      s.intx[f.index] = asserted ? 1 : 0;
      if (f.line === undefined) return;
      const after = this.lineLevel(f.line);
      if (after !== before) this.setIrqLine(f.line, after);
    } finally {
      s.lock.release();
    }
  }

  private emptyBuses(): Record<PciWindowKind, AddressBus> {
    const { mmio, io } = this.windows;
    return {
      mmio: new AddressBus({ name: `${this.name}.mmio`, limit: mmio.base + mmio.size }),
      io: new AddressBus({ name: `${this.name}.io`, limit: io.base + io.size }),
    };
  }

  /** The function registered at (device, function) on bus 0, by name; undefined when absent. */
  functionAt(device: number, fn: number): string | undefined {
    return this.slots[device * PCI_FUNCTIONS_PER_DEVICE + fn]?.resolved.name;
  }

  /** The latch of an indirect configuration mechanism (x86 0xCF8), shared by every vCPU as in hardware. */
  get configAddress(): number {
    return this.state.configAddress;
  }

  set configAddress(value: number) {
    this.state.configAddress = value;
  }

  /** Read `size` (1, 2 or 4) bytes at `register` of (bus, device, function); all-ones where nothing answers. */
  configRead(bus: number, device: number, fn: number, register: number, size: number): number {
    const f = bus === 0 ? this.slots[device * PCI_FUNCTIONS_PER_DEVICE + fn] : undefined;
    if (f === undefined || register >= PCI_CONFIG_SPACE_SIZE) return size === 4 ? ALL_ONES : 2 ** (8 * size) - 1;
    const s = this.state;
    s.lock.acquire();
    try {
      return f.config.read(register, size);
    } finally {
      s.lock.release();
    }
  }

  /** Write `size` bytes at `register` of (bus, device, function); dropped where nothing answers. */
  configWrite(bus: number, device: number, fn: number, register: number, size: number, value: number): void {
    const f = bus === 0 ? this.slots[device * PCI_FUNCTIONS_PER_DEVICE + fn] : undefined;
    if (f === undefined || register >= PCI_CONFIG_SPACE_SIZE) return;
    const s = this.state;
    s.lock.acquire();
    try {
      // Interrupt-disable may change: the line follows, in the same critical section.
      const before = f.line !== undefined && this.lineLevel(f.line);
      f.config.write(register, size, value);
      if (f.line !== undefined) {
        const after = this.lineLevel(f.line);
        if (after !== before) this.setIrqLine(f.line, after);
      }
      // Every thread's decode is rebuilt on its next window access (cheap: config writes are rare).
      s.generation = (s.generation + 1) >>> 0;
    } finally {
      s.lock.release();
    }
  }

  /** The BARs decoded now, in function then BAR order, with the function's name. */
  decodedBars(): (PciDecodedBar & { readonly function: string })[] {
    const s = this.state;
    s.lock.acquire();
    try {
      return this.hosted.flatMap((f) =>
        Array.from({ length: PCI_BAR_COUNT }, (_, i) => f.config.decodedBar(i))
          .filter((b): b is PciDecodedBar => b !== undefined)
          .map((b) => ({ ...b, function: f.resolved.name })),
      );
    } finally {
      s.lock.release();
    }
  }

  /** This thread's bus of `kind`'s window, brought up to date with shared config space. */
  decodeBus(kind: PciWindowKind): AddressBus {
    if (this.state.generation !== this.builtFrom) this.rebuild();
    return this.buses[kind];
  }

  private rebuild(): void {
    const s = this.state;
    s.lock.acquire();
    try {
      const generation = s.generation;
      const buses = this.emptyBuses();
      for (const f of this.hosted) {
        for (let i = 0; i < PCI_BAR_COUNT; i++) {
          const bar = f.config.decodedBar(i);
          const handler = f.instance.bars[i];
          if (bar === undefined || handler === undefined) continue;
          const kind: PciWindowKind = bar.kind === 'io' ? 'io' : 'mmio';
          const w = this.windows[kind];
          if (bar.base < w.base || bar.base + bar.size > w.base + w.size) continue;
          const bus = buses[kind];
          if (bus.ranges().some((m) => bar.base < m.base + m.size && m.base < bar.base + bar.size)) continue;
          bus.attach({ base: bar.base, size: bar.size }, handler);
        }
      }
      this.buses = buses;
      this.builtFrom = generation;
    } finally {
      s.lock.release();
    }
  }

  /**
   * Power-on state: every function reset (it drops its pin), then config space cleared (decode
   * off, BARs at 0, interrupt lines preset) and every routed line driven low.
   */
  reset(): void {
    for (const f of this.hosted) f.instance.reset?.();
    const s = this.state;
    s.lock.acquire();
    try {
      for (const f of this.hosted) f.config.reset();
      s.intx.fill(0);
      s.configAddress = 0;
      this.presetInterruptLines();
      this.driveLines();
      s.generation = (s.generation + 1) >>> 0;
    } finally {
      s.lock.release();
    }
  }

  /** Every routed line to the level shared state implies. Under the lock. */
  private driveLines(): void {
    const lines = new Set(this.hosted.map((f) => f.line).filter((l): l is number => l !== undefined));
    for (const line of lines) this.setIrqLine(line, this.lineLevel(line));
  }

  /** Functions (or their BARs' Devices) that keep per-thread state or may refuse a checkpoint; empty: the host needs no local-state hooks. */
  get localStateParts(): readonly PciLocalStatePart[] {
    return (this.localParts ??= pciLocalStateParts(this.hosted.map((f) => ({ name: f.resolved.name, instance: f.instance }))));
  }

  /** For the host device's `unsaveableReason`. */
  unsaveableReason(): string | undefined {
    return pciUnsaveableReason(this.localStateParts);
  }

  /** For the host device's `saveLocalState`: this thread's state of every function part that keeps some. */
  saveLocalState(): Record<string, unknown> {
    return savePciLocalState(this.localStateParts);
  }

  /** For the host device's `restoreLocalState`: a CheckpointError when the saved parts differ from this host's. */
  restoreLocalState(state: unknown): void {
    restorePciLocalState(this.name, this.localStateParts, state);
  }

  /**
   * After shared state was restored (into a VM that never saw it): drive every routed line to
   * the restored level, and make every thread rebuild its decode.
   */
  afterRestore(): void {
    const s = this.state;
    s.lock.acquire();
    try {
      this.driveLines();
      s.generation = (s.generation + 1) >>> 0;
    } finally {
      s.lock.release();
    }
  }

  /** The Device to place over window `kind` (its range is `window(kind)`). */
  windowDevice(kind: PciWindowKind): Device {
    return new PciDecodeWindow(this, kind, this.windows[kind].base);
  }

  window(kind: PciWindowKind): AddressRange {
    return this.windows[kind];
  }
}

/** One window of the host on a thread's bus: forwards to the BAR decoded at the address, or master-aborts. */
class PciDecodeWindow implements Device {
  readonly name: string;

  constructor(
    private readonly host: PciHost,
    private readonly kind: PciWindowKind,
    private readonly base: number,
  ) {
    this.name = `${host.name}.${kind}-window`;
  }

  read(offset: number, size: AccessSize, out: HighWord): number {
    const bus = this.host.decodeBus(this.kind);
    const value = bus.read(this.base + offset, size);
    if (value === UNCLAIMED) {
      this.host.masterAborts++;
      out.high = ALL_ONES;
      return ALL_ONES;
    }
    out.high = bus.high.high;
    return value;
  }

  write(offset: number, size: AccessSize, value: number, valueHigh: number): void {
    if (!this.host.decodeBus(this.kind).write(this.base + offset, size, value, valueHigh)) this.host.masterAborts++;
  }
}
