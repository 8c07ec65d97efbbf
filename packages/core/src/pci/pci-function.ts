/**
 * What a PCI function is to the host: its identity (ids, class), its BARs, and the Device that
 * serves each BAR. A PCI device type is a `PciFunctionPlugin`, registered under
 * PCI_FUNCTION_PLUGIN by a plugin module (the way DevicePlugins are), and placed on the host's
 * bus 0 by a `PciFunctionSpec` in the host's options. Like every device, a function is
 * instantiated in every vCPU thread (and on the main thread); its instances are one function
 * because their state lives in shared memory — the function's own SharedLayout, inside the
 * host's buffer (`ctx.bindShared`).
 */
import type { DependencyContainer } from 'tsyringe';
import type { Device } from '../bus/device';
import type { SharedFieldTable, SharedLayout, SharedState } from '../devices/shared-layout';
import { ConfigError } from '../errors/errors';
import { resolveAllOrNone } from '../di/container';

/** PciFunctionPlugin registrations (multi): the last one registered for a type wins. */
export const PCI_FUNCTION_PLUGIN = Symbol.for('kvmts.PciFunctionPlugin');

/** 'mem32' and 'mem64' decode guest-physical memory (MMIO), 'io' the I/O space (x86 ports). */
export type PciBarKind = 'mem32' | 'mem64' | 'io';

export interface PciBarSpec {
  readonly kind: PciBarKind;
  /**
   * Bytes decoded, a power of two: memory BARs 16 B – 2 GiB (mem32) or 16 B – 2^52 B (mem64),
   * I/O BARs 4–256 B. A mem64 BAR takes two BAR registers (its index and the next).
   */
  readonly size: number;
  /** Memory BARs only: reads have no side effects (sets BAR bit 3). */
  readonly prefetchable?: boolean;
}

/** A function's identity and resources: all read-only to the guest, the same in every thread. */
export interface PciFunctionDescription {
  readonly vendorId: number;
  readonly deviceId: number;
  /** base class << 16 | sub-class << 8 | programming interface, e.g. 0xff0000 (unassigned class). */
  readonly classCode: number;
  readonly revisionId?: number;
  readonly subsystemVendorId?: number;
  readonly subsystemId?: number;
  /** INTx pin the function uses: 0 none, 1–4 INTA#–INTD#. The arch's host routes it to an interrupt line. */
  readonly interruptPin?: number;
  /** By BAR register index (0–5); a mem64 BAR at n leaves n + 1 undefined. */
  readonly bars: readonly (PciBarSpec | undefined)[];
}

/** What the host gives a function instance. */
export interface PciFunctionContext {
  /** The function's name (unique among the host's functions). */
  readonly name: string;
  /** vCPU whose thread this instance serves, or -1 on the main thread. */
  readonly vcpuId: number;
  /** Bind the layout the plugin declared in `sharedLayout` over this function's part of the host's shared state. */
  bindShared<F extends SharedFieldTable>(layout: SharedLayout<F>): SharedState<F>;
  /**
   * Drive the function's INTx pin (level-triggered; the description's `interruptPin` must be set).
   * Call it holding the function's own SharedLock, in the critical section whose state change
   * moved the level, so levels reach the interrupt controller in the order the state changed.
   * The host ORs the functions sharing a line and masks a function whose command register has
   * interrupt-disable set.
   */
  setInterrupt(asserted: boolean): void;
}

/** A function instance: the Device serving each BAR (offsets relative to the BAR's base). */
export interface PciFunction {
  /** By BAR index; undefined where the description has no BAR (or for the upper half of a mem64 BAR). */
  readonly bars: readonly (Device | undefined)[];
  /** Back to power-on state (the host resets config space itself). */
  reset?(): void;
  /**
   * Checkpoint state this instance keeps outside its shared layout, per thread, as Device's hooks
   * of the same names (the host saves them with its own local state, keyed by function name; a
   * BAR's Device may have them too, keyed `<function>.bar<i>`). Omit them when all state is shared.
   */
  saveLocalState?(): unknown;
  restoreLocalState?(state: unknown): void;
  /** Why this instance cannot be checkpointed now, or undefined: fails the checkpoint naming the function. */
  unsaveableReason?(): string | undefined;
}

export interface PciFunctionPlugin<Options = unknown> {
  readonly type: string;
  /** Throws ConfigError naming the bad option. */
  validate(options: Options): void;
  /** Identity and BARs, from options alone (every thread derives the same). */
  describe(options: Options): PciFunctionDescription;
  /** Layout of the state all instances share; absent: none. */
  sharedLayout?(options: Options): SharedLayout;
  create(ctx: PciFunctionContext, options: Options): PciFunction;
}

/** Where a function sits on bus 0 and what it is: an entry of the PCI host's `functions`. */
export interface PciFunctionSpec<Options = unknown> {
  /** PciFunctionPlugin type, e.g. 'pci-test-device'. */
  readonly type: string;
  /** Device number on bus 0, 0–31. */
  readonly device: number;
  /** Function number, 0–7. Default 0. A device with functions must have function 0. */
  readonly function?: number;
  /** Unique among the host's functions. Default `type@device.function`. */
  readonly name?: string;
  readonly options: Options;
}

/** The PCI function plugin for `type` (the last registration wins), else a ConfigError naming `setting`. */
export function findPciFunctionPlugin(container: DependencyContainer, type: string, setting: string): PciFunctionPlugin {
  const plugins = resolveAllOrNone<PciFunctionPlugin>(container, PCI_FUNCTION_PLUGIN);
  const p = plugins.filter((x) => x.type === type).pop();
  if (!p) {
    throw new ConfigError(setting, `no PCI function plugin of type '${String(type)}' (registered: ${[...new Set(plugins.map((x) => x.type))].join(', ') || 'none'}); name the module that registers it in \`plugins\``);
  }
  return p;
}
