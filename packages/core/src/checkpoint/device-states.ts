/**
 * The per-thread part of device checkpoints: every device has one instance per thread (each
 * vCPU worker and the main thread), and state an instance keeps outside the shared layout is
 * saved through its saveLocalState hook, per thread. Shared state is saved once per device by
 * the machine (saveSharedState).
 */
import type { Device } from '../bus/device';
import { CheckpointError } from '../errors/errors';

export interface NamedDevice {
  readonly name: string;
  readonly device: Device;
}

/**
 * Local state of `devices` by name (devices without the hook are absent). A device that says it
 * cannot be saved fails with a `not-saveable` CheckpointError naming it.
 */
export function saveLocalDeviceStates(devices: readonly NamedDevice[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { name, device } of devices) {
    const reason = device.unsaveableReason?.();
    if (reason !== undefined) throw new CheckpointError(`device '${name}'`, `cannot be saved: ${reason}`, { code: 'not-saveable' });
    if (device.saveLocalState) out[name] = device.saveLocalState();
  }
  return out;
}

/**
 * Give each device its saved local state. A device with the hook and no saved state, or saved
 * state for a device without the hook, is an `incompatible` CheckpointError naming it.
 */
export function restoreLocalDeviceStates(devices: readonly NamedDevice[], states: Readonly<Record<string, unknown>>): void {
  for (const name of Object.keys(states)) {
    const target = devices.find((d) => d.name === name);
    if (!target?.device.restoreLocalState) throw new CheckpointError(`device '${name}'`, 'the checkpoint holds local state for it, but this machine has no such device that restores local state', { code: 'incompatible' });
  }
  for (const { name, device } of devices) {
    if (!device.restoreLocalState) continue;
    if (!(name in states)) throw new CheckpointError(`device '${name}'`, 'keeps local state, but the checkpoint holds none for it', { code: 'incompatible' });
    device.restoreLocalState(states[name]);
  }
}
