/**
 * Per-thread checkpoint state of the functions on a PCI host. A function instance, like every
 * device instance, lives in each vCPU thread; what it keeps outside its shared layout (and what
 * the Devices serving its BARs keep) is saved per thread, through the host device's own
 * saveLocalState — the machine sees only the host. Each part that has the hooks is one key:
 * `<function>` for the function instance, `<function>.bar<i>` for a BAR's Device. A restore must
 * find exactly the saved keys, so a checkpoint never half-restores a different set of functions.
 */
import type { Device } from '../bus/device';
import { CheckpointError } from '../errors/errors';
import type { PciFunction } from './pci-function';

/** Something with the optional checkpoint hooks: a PciFunction or a BAR's Device. */
type LocalStatePart = Pick<Device, 'saveLocalState' | 'restoreLocalState' | 'unsaveableReason'>;

export interface PciLocalStatePart {
  readonly key: string;
  readonly part: LocalStatePart;
}

/** The parts of `functions` that keep local state or may refuse a checkpoint, by key. */
export function pciLocalStateParts(functions: readonly { readonly name: string; readonly instance: PciFunction }[]): PciLocalStatePart[] {
  const parts: PciLocalStatePart[] = [];
  const keep = (key: string, part: LocalStatePart | undefined): void => {
    if (part && (part.saveLocalState || part.restoreLocalState || part.unsaveableReason)) parts.push({ key, part });
  };
  for (const { name, instance } of functions) {
    keep(name, instance);
    // A function may serve a BAR itself (`bars: [this]`): one object is one part.
    instance.bars.forEach((bar, i) => {
      if (bar !== (instance as unknown)) keep(`${name}.bar${i}`, bar);
    });
  }
  return parts;
}

/** The first reason a part gives for not being saveable, named by its key. */
export function pciUnsaveableReason(parts: readonly PciLocalStatePart[]): string | undefined {
  for (const { key, part } of parts) {
    const reason = part.unsaveableReason?.();
    if (reason !== undefined) return `PCI function part '${key}': ${reason}`;
  }
  return undefined;
}

export function savePciLocalState(parts: readonly PciLocalStatePart[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, part } of parts) if (part.saveLocalState) out[key] = part.saveLocalState();
  return out;
}

/** `host` names the host device in errors. Checks every key before restoring any part. */
export function restorePciLocalState(host: string, parts: readonly PciLocalStatePart[], state: unknown): void {
  const saved = state === undefined ? {} : state;
  if (typeof saved !== 'object' || saved === null || Array.isArray(saved)) {
    throw new CheckpointError(`device '${host}'`, 'its PCI functions\' local state is not an object', { code: 'corrupt' });
  }
  const restoring = parts.filter((p) => p.part.saveLocalState);
  const expected = new Set(restoring.map((p) => p.key));
  for (const key of Object.keys(saved)) {
    if (!expected.has(key)) throw new CheckpointError(`device '${host}'`, `the checkpoint holds local state for PCI function part '${key}', which this machine's functions do not keep`, { code: 'incompatible' });
  }
  for (const { key, part } of restoring) {
    if (!(key in saved)) throw new CheckpointError(`device '${host}'`, `PCI function part '${key}' keeps local state, but the checkpoint holds none for it`, { code: 'incompatible' });
    if (!part.restoreLocalState) throw new CheckpointError(`device '${host}'`, `PCI function part '${key}' saves local state but cannot restore it`, { code: 'incompatible' });
  }
  const values = saved as Record<string, unknown>;
  for (const { key, part } of restoring) part.restoreLocalState!(values[key]);
}
