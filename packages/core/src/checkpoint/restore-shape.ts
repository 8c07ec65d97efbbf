/**
 * Does a checkpoint fit a machine that exists (Machine.restore)? The shape that decides what a
 * checkpoint holds state for: the arch, the vCPU count, the memory regions and the config fields
 * that shape it (SHAPING_FIELDS: arch options and devices), which must equal the saved ones.
 *
 * A warm restore asks this every time, so each side's shape is one string computed once: the
 * machine's from its config object (kept per object: a machine's config never changes), the
 * checkpoint's straight from the manifest's config, which is tagged JSON already — the canonical
 * form, so no decode and re-encode. The strings are equal exactly when every field is: both are
 * JSON.stringify of toTagged of the value (the manifest's was written that way, and a JSON round
 * trip keeps key order). Only when they differ is each field compared, to name the difference.
 */
import type { MachineConfig } from '../machine/machine-config';
import type { CheckpointManifest } from './manifest';
import { toTagged } from './tagged-json';

/** Config fields that shape what a checkpoint holds state for: they must equal the saved ones. */
export const SHAPING_FIELDS = ['archOptions', 'devices'] as const;

/** A memory region as far as its shape goes (a saved region or a live one). */
export interface RegionShape {
  readonly name: string;
  readonly guestPhysAddr: number;
  readonly size: number;
  readonly kvmMap: boolean;
  readonly inAddrMap: boolean;
  readonly readOnly: boolean;
}

/** What restore-into checks a machine by: its config, vCPU count and regions. */
export interface MachineShapeSource {
  readonly config: MachineConfig;
  readonly vcpus: { readonly length: number };
  readonly vm: { readonly regions: readonly RegionShape[] };
}

const regionKey = (r: RegionShape): string =>
  `'${r.name}' at 0x${r.guestPhysAddr.toString(16)}, ${r.size} bytes${r.kvmMap ? '' : ', not a KVM slot'}${r.inAddrMap ? '' : ', not in the address map'}${r.readOnly ? ', read-only' : ''}`;

/** One shaping field in canonical form: JSON of its tagged value (null when absent). */
const fieldJson = (tagged: unknown): string => JSON.stringify(tagged ?? null);

interface Shape {
  readonly regions: string;
  readonly fields: readonly string[];
}

/** The machine side, per config object: its regions never change, neither does its config. */
const machineShapes = new WeakMap<MachineConfig, Shape>();

function machineShape(parts: MachineShapeSource): Shape {
  let shape = machineShapes.get(parts.config);
  if (shape === undefined) {
    const config = parts.config as unknown as Record<string, unknown>;
    shape = {
      regions: parts.vm.regions.map(regionKey).join('; '),
      fields: SHAPING_FIELDS.map((f) => fieldJson(toTagged(config[f] ?? null, `machine config.${f}`))),
    };
    machineShapes.set(parts.config, shape);
  }
  return shape;
}

/** The checkpoint side, from the manifest's tagged config (its regions as saved). */
function savedShape(manifest: Pick<CheckpointManifest, 'config' | 'memory'>): Shape {
  const config = (manifest.config ?? {}) as Record<string, unknown>;
  return { regions: manifest.memory.regions.map(regionKey).join('; '), fields: SHAPING_FIELDS.map((f) => fieldJson(config[f])) };
}

/** Why the machine cannot take this checkpoint's state, or undefined when it can. */
export function shapeMismatch(parts: MachineShapeSource, manifest: Pick<CheckpointManifest, 'arch' | 'vcpus' | 'config' | 'memory'>): string | undefined {
  if (manifest.arch !== parts.config.arch) return `the checkpoint is of an ${manifest.arch} machine, this one is ${parts.config.arch}`;
  if (manifest.vcpus !== parts.vcpus.length) return `the checkpoint has ${manifest.vcpus} vCPUs, this machine ${parts.vcpus.length}`;
  const here = machineShape(parts);
  const saved = savedShape(manifest);
  if (saved.regions !== here.regions) return `memory regions differ: saved ${saved.regions}, this machine ${here.regions}`;
  const at = SHAPING_FIELDS.findIndex((_, i) => saved.fields[i] !== here.fields[i]);
  return at < 0 ? undefined : `config.${SHAPING_FIELDS[at]} differs: saved ${saved.fields[at]}, this machine ${here.fields[at]}`;
}
