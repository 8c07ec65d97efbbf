/**
 * This host's CPU fingerprint for a machine config, computed once per KVM handle and config shape.
 * What KVM offers (KVM_GET_SUPPORTED_CPUID on x86; the ID registers of a scratch vCPU on arm64)
 * does not change while /dev/kvm is open, and the guest's CPU depends only on `arch`, `cpus` and
 * `archOptions` — so every save and restore after the first skips the ioctls (and on arm64 the
 * scratch VM) the fingerprint costs.
 */
import type { Kvm } from '../kvm/kvm';
import type { MachineConfig } from '../machine/machine-config';
import type { ArchCheckpointSupport } from './component';
import { fingerprintMismatches, type CpuFingerprint } from './fingerprint';
import { toTagged } from './tagged-json';

const byKvm = new WeakMap<Kvm, WeakMap<ArchCheckpointSupport, Map<string, CpuFingerprint>>>();

/** The config shape's key, once per config object (a machine's config is its own for its life: every restore into it asks again). */
const keys = new WeakMap<MachineConfig, string>();

function shapeKey(config: MachineConfig): string {
  let key = keys.get(config);
  if (key === undefined) {
    key = JSON.stringify(toTagged({ arch: config.arch, cpus: config.cpus ?? 1, archOptions: config.archOptions ?? null }, 'config'));
    keys.set(config, key);
  }
  return key;
}

export function hostFingerprint(support: ArchCheckpointSupport, kvm: Kvm, config: MachineConfig): CpuFingerprint {
  const key = shapeKey(config);
  let bySupport = byKvm.get(kvm);
  if (!bySupport) byKvm.set(kvm, (bySupport = new WeakMap()));
  let known = bySupport.get(support);
  if (!known) bySupport.set(support, (known = new Map()));
  let fingerprint = known.get(key);
  if (!fingerprint) known.set(key, (fingerprint = support.cpuFingerprint(kvm, config)));
  return fingerprint;
}

/** The saved fingerprints' mismatches with this host's, by saved object (a checked checkpoint's manifest is reused: verified-cache.ts). */
const mismatchesBySaved = new WeakMap<CpuFingerprint, WeakMap<CpuFingerprint, readonly string[]>>();

/** fingerprintMismatches(saved, host), once per pair of fingerprint objects (both are reused, never changed: the manifest is frozen). */
export function hostMismatches(saved: CpuFingerprint, host: CpuFingerprint): readonly string[] {
  let byHost = mismatchesBySaved.get(saved);
  if (!byHost) mismatchesBySaved.set(saved, (byHost = new WeakMap()));
  let found = byHost.get(host);
  if (!found) byHost.set(host, (found = fingerprintMismatches(saved, host)));
  return found;
}
