import type { Device } from '../bus/device';
import type { AddressRange } from '../bus/address-range';
import type { SharedLayout } from '../devices/shared-layout';
import type { KvmCPU } from '../cpu/kvm-cpu';
import type { GuestMemory } from '../vm/guest-memory';
import type { IrqLines } from '../vm/irq-line';

/**
 * Devices are described on the main thread by a DeviceSpec (plain, structured-cloneable data)
 * and instantiated inside every vCPU worker thread, so that an exit is served by a device in the
 * thread that took it — no cross-thread hop on the hot path. State that must be the same for
 * every vCPU lives in `ctx.shared`, a SharedArrayBuffer the machine allocates once per device
 * (`sharedLayout(options).byteLength` bytes) and hands to every thread, the main thread included.
 */
export interface DeviceSpec<Options = unknown> {
  /** Module that registers the device type in a container, e.g. '@kvmts/arch-x86'. */
  readonly plugin: string;
  /** Device type name registered by that module, e.g. 'uart8250'. */
  readonly type: string;
  /** Instance name, unique in a machine (defaults to `type@address`). */
  readonly name?: string;
  readonly options: Options;
}

/**
 * Where a device sits: ranges by address-space name — 'mmio' on every arch, plus the spaces the
 * arch declares (x86: 'pio' for port I/O), e.g. `{ pio: [{ base: 0x3f8, size: 8 }] }`.
 */
export type DevicePlacement = Readonly<Record<string, readonly AddressRange[] | undefined>>;

/** What the machine offers a device instance. */
export interface DeviceContext {
  /** Instance name (unique in the machine). */
  readonly name: string;
  /** vCPU whose thread this instance serves, or -1 on the main thread. */
  readonly vcpuId: number;
  /**
   * Shared state: the same memory in every thread, exactly `plugin.sharedLayout(options).byteLength`
   * bytes (0 without a layout), zero-filled at machine creation. Read it through the layout's `bind`.
   */
  readonly shared: SharedArrayBuffer;
  /**
   * Bytes the guest sends to the machine's console (UART TX). Buffered; never blocks. Call it
   * after releasing the device's SharedLock (collect with DeferredEffects).
   */
  consoleWrite(byte: number): void;
  /**
   * The guest finished a burst of console output that need not end in a newline (an interactive
   * shell's prompt): hand on what consoleWrite has buffered now instead of at the next newline.
   * A UART calls it when the guest's driver stops transmitting. Optional (a context that does not
   * buffer has nothing to flush); call it after releasing the device's lock.
   */
  consoleFlush?(): void;
  /**
   * The guest asked to power off with an exit status: ends this vCPU's run (and the machine
   * then stops the others). Call it after releasing the device's lock.
   */
  requestPowerOff(status: number): void;
  /**
   * The guest asked for a system reset (x86: the i8042's reset line, port 0x92's fast reset):
   * ends this vCPU's run as `Stop.systemReset` — the stop KVM_SYSTEM_EVENT_RESET gives (a PSCI
   * reset on arm64) — and the machine then stops the others; kvmts does not reboot in place.
   * Optional so hand-made contexts in tests need not provide it; the machine's contexts do.
   * Call it after releasing the device's lock.
   */
  requestReset?(): void;
  /**
   * Assert or deassert an interrupt line (GSI on x86). Call it while holding the device's lock,
   * in the same critical section as the state change that moved the level (see SharedLock).
   */
  setIrqLine(line: number, level: boolean): void;
  /**
   * Become the interrupt controller of this thread's devices (a userspace GIC): from now on their
   * setIrqLine calls arrive at `controller.set`. Returns the lines underneath, where the
   * controller drives its own outputs. Absent where the host offers no routing (devices driven by
   * hand in tests). ConfigError when another device already claimed them.
   */
  claimIrqLines?(controller: IrqLines): IrqLines;
  /**
   * The vCPU this instance serves (absent on the main thread): for devices that read or write
   * its registers during an exit, as the m5ops device reads the argument registers.
   */
  readonly cpu?: KvmCPU;
  /** Guest RAM, for devices that move data in or out of it (absent where the host supplied none). */
  readonly memory?: GuestMemory;
}

/**
 * A device type. Registered in the machine's container under DEVICE_PLUGIN (multi-registration),
 * looked up by `type`.
 */
export interface DevicePlugin<Options = unknown> {
  readonly type: string;
  /**
   * Layout of the state all instances share, from options alone. Absent: the device shares
   * nothing (its buffer is 0 bytes). Checkpoints save and restore the buffer through it
   * (saveSharedState / restoreSharedState).
   */
  sharedLayout?(options: Options): SharedLayout;
  /** Throws ConfigError naming the bad option. Called on the main thread before any thread starts. */
  validate(options: Options): void;
  /** Where the instance sits on the buses, derived from options alone. */
  placement(options: Options): DevicePlacement;
  create(ctx: DeviceContext, options: Options): Device;
}
