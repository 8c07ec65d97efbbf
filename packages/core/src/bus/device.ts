/**
 * A device as the buses see it: byte-addressed registers at offsets from the device's base.
 * Accesses are 1, 2, 4 or 8 bytes; values travel as numbers for sizes ≤ 4 and the low 32 bits
 * of an 8-byte access arrive in `value` with the high 32 bits in `valueHigh` — so the exit path
 * never allocates a bigint. Devices that do not care about 8-byte accesses ignore `valueHigh`.
 */
export interface Device {
  /** Short human name for dumps and statistics, e.g. 'uart8250@0x3f8'. */
  readonly name: string;
  /** Read `size` bytes at `offset`. Return the low 32 bits; put the high 32 bits in `out.high` for size 8. */
  read(offset: number, size: AccessSize, out: HighWord): number;
  /** Write `size` bytes at `offset`. */
  write(offset: number, size: AccessSize, value: number, valueHigh: number): void;
  /** Back to power-on state. */
  reset?(): void;
  /**
   * Checkpoint state of this instance that is not in shared memory, as structured-cloneable data
   * (shared state is saved once per device, through its layout). Omit both when all state is shared.
   */
  saveLocalState?(): unknown;
  restoreLocalState?(state: unknown): void;
  /**
   * Why this instance's state cannot be checkpointed right now (e.g. it holds a host file or
   * socket whose state no bytes capture), or undefined when it can. A reason fails the
   * checkpoint with a `not-saveable` CheckpointError naming the device.
   */
  unsaveableReason?(): string | undefined;
  /**
   * Called on one instance of the device after its shared and local state were restored: drive
   * what lives outside the device — interrupt lines — to the level the restored registers imply,
   * since the VM the state was saved from is not the one it is restored into.
   */
  afterRestore?(): void;
  /**
   * For a device placed at several ranges that must tell them apart (an access arrives as an
   * offset from its range's base): the Device that serves the `index`-th range of `space` in its
   * placement. Absent: this device serves every range.
   */
  forRange?(space: string, index: number): Device;
}

export type AccessSize = 1 | 2 | 4 | 8;

/** Reusable out-parameter for the high half of 8-byte reads (one per bus, never per exit). */
export interface HighWord {
  high: number;
}
