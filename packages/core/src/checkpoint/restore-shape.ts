/**
 * Does a checkpoint fit a machine that exists (Machine.restore)? The shape that decides what a
 * checkpoint holds state for: the arch, the vCPU count, the memory regions and the config fields
 * that shape it (SHAPING_FIELDS: arch options and devices), which must equal the saved ones.
 *
 * A warm restore asks this every time, so each side's config fields are canonicalised once: the
 * machine's per machine (keyed by its VM object: a config object the user reuses or changes for
 * another machine does not carry one machine's answer to the next), the checkpoint's per
 * manifest object (an unchanged manifest is parsed once and reused: verified-cache.ts), straight
 * from the manifest's tagged JSON, no decode and re-encode. Canonical means tagged JSON with the
 * keys of every object sorted, so two configs with the same content in another key order (a
 * config written by hand against one from checkpointConfig(dir)) fit. The regions are compared
 * each time: a VM may gain regions after it was made, and there are only a few.
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

/** Tagged JSON with every object's keys in sorted order: equal strings exactly when the contents are equal. */
export function canonicalJson(tagged: unknown): string {
  return JSON.stringify(tagged ?? null, (_key, value: unknown) =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}

/** The saved regions' description, once per manifest's region list (an unchanged manifest is reused, frozen). */
const regionKeysByList = new WeakMap<readonly RegionShape[], string>();

function savedRegionKeys(regions: readonly RegionShape[]): string {
  let keys = regionKeysByList.get(regions);
  if (keys === undefined) regionKeysByList.set(regions, (keys = regions.map(regionKey).join('; ')));
  return keys;
}

/** The shaping fields of each machine (by its VM object) or manifest config (checkpoint) object, canonical. */
const fieldsByObject = new WeakMap<object, readonly string[]>();

function canonicalFields(owner: object, fields: () => readonly string[]): readonly string[] {
  let known = fieldsByObject.get(owner);
  if (known === undefined) fieldsByObject.set(owner, (known = fields()));
  return known;
}

function machineFields(parts: MachineShapeSource): readonly string[] {
  const record = parts.config as unknown as Record<string, unknown>;
  return canonicalFields(parts.vm, () => SHAPING_FIELDS.map((f) => canonicalJson(toTagged(record[f] ?? null, `machine config.${f}`))));
}

/** The checkpoint's, from the manifest's config: tagged JSON already. */
function savedFields(manifestConfig: unknown): readonly string[] {
  const record = (manifestConfig ?? {}) as Record<string, unknown>;
  const compute = () => SHAPING_FIELDS.map((f) => canonicalJson(record[f]));
  return typeof manifestConfig === 'object' && manifestConfig !== null ? canonicalFields(manifestConfig, compute) : compute();
}

/** Why the machine cannot take this checkpoint's state, or undefined when it can. */
export function shapeMismatch(parts: MachineShapeSource, manifest: Pick<CheckpointManifest, 'arch' | 'vcpus' | 'config' | 'memory'>): string | undefined {
  if (manifest.arch !== parts.config.arch) return `the checkpoint is of an ${manifest.arch} machine, this one is ${parts.config.arch}`;
  if (manifest.vcpus !== parts.vcpus.length) return `the checkpoint has ${manifest.vcpus} vCPUs, this machine ${parts.vcpus.length}`;
  const savedRegions = savedRegionKeys(manifest.memory.regions);
  const regions = parts.vm.regions.map(regionKey).join('; ');
  if (savedRegions !== regions) return `memory regions differ: saved ${savedRegions}, this machine ${regions}`;
  const saved = savedFields(manifest.config);
  const here = machineFields(parts);
  const at = SHAPING_FIELDS.findIndex((_, i) => saved[i] !== here[i]);
  return at < 0 ? undefined : `config.${SHAPING_FIELDS[at]} differs: saved ${saved[at]}, this machine ${here[at]}`;
}
