/**
 * Saving a whole machine (Machine.checkpoint): gather every component's state while no vCPU
 * runs — vCPU ThreadContexts and device-local state from the worker threads, device shared
 * state, the arch plugin's in-kernel state, registered components — then write the directory
 * atomically. Everything is gathered before the first file is written, so a part that cannot
 * be saved fails the checkpoint (naming it) and leaves the previous checkpoint untouched.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as native from '@kvmts/native';
import { CheckpointError, KvmtsError, LifecycleError } from '../errors/errors';
import { saveSharedState } from '../devices/shared-state-checkpoint';
import { replaceDirectoryAtomically } from './atomic-dir';
import { CheckpointReader, CheckpointWriter, type RegionToWrite } from './checkpoint-files';
import type { DirtyPageTracker } from './dirty-tracker';
import { encodeSection, toTagged } from './tagged-json';
import { MACHINE_SECTION_PREFIXES, isValidSectionName } from './component';
import type { SavedVcpuState } from './vcpu-state';
import { hostFingerprint } from './host-fingerprint';
import { M5OP_STATS_SECTION, M5OP_STATS_VERSION, SIM_TIME_SECTION, SIM_TIME_VERSION, m5opStatsSection, simTimeSection } from './machine-state';
import { saveLocalDeviceStates } from './device-states';
import { MANIFEST_FILE, serializeManifest, type CheckpointManifest } from './manifest';
import { checkMemoryImageRecord } from './checkpoint-read';
import type { MemoryRegion } from '../vm/memory-region';
import { phaseReporter, type CheckpointProgressCallback } from './progress';
import { hostMappings, isAnonymousRange } from './host-mappings';
import {
  DEVICE_SECTION_VERSION,
  checkpointComponents,
  checkpointContext,
  deviceSection,
  mainThreadDevices,
  sharedLayoutOf,
  vcpuSection,
  type DeviceSectionData,
  type MachinePartsWithVcpus,
} from './machine-parts';
import { createSha256 } from '../util/lazy-builtins';

/** A SHA-256 hash (node:crypto loaded at the first checkpoint: ../util/lazy-builtins.ts). */
const sha256 = createSha256;

let version: string | undefined;

/** The version of @kvmts/core, recorded in every manifest. */
export function kvmtsVersion(): string {
  version ??= (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}

interface GatheredSection {
  readonly name: string;
  readonly version: number;
  readonly data: unknown;
}

/** A component's save, with any failure named after it. */
function saveNamed(name: string, save: () => unknown): unknown {
  try {
    return save();
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`component '${name}'`, `cannot be saved: ${(e as Error).message}`, { code: 'not-saveable', cause: e });
  }
}

async function gather(parts: MachinePartsWithVcpus): Promise<GatheredSection[]> {
  const support = parts.arch.checkpoint;
  if (!support) throw new CheckpointError(`arch plugin '${parts.arch.arch}'`, 'cannot save machines: it has no checkpoint support (ArchPlugin.checkpoint)', { code: 'not-saveable' });
  const ctx = checkpointContext(parts);
  const sections: GatheredSection[] = [];
  for (const c of checkpointComponents(parts)) {
    if (!isValidSectionName(c.name) || MACHINE_SECTION_PREFIXES.some((p) => c.name.startsWith(p))) {
      throw new CheckpointError(`component '${c.name}'`, `has an invalid section name (lower-case letters, digits, '.', '-', '_', '@'; ${MACHINE_SECTION_PREFIXES.map((p) => `'${p}'`).join(', ')} are the machine's)`, { code: 'not-saveable' });
    }
    sections.push({ name: c.name, version: c.version, data: saveNamed(c.name, () => c.save(ctx)) });
  }
  // One round trip per vCPU thread, all at once: context, device-local state, ticks (vcpu-state.ts).
  const vcpuStates = await Promise.all(parts.vcpus.map((v) => v.call<SavedVcpuState>('saveVcpuState')));
  parts.vcpus.forEach((v, i) => sections.push({ name: vcpuSection(v.id), version: support.threadContextVersion, data: vcpuStates[i].threadContext }));
  sections.push({ name: SIM_TIME_SECTION, version: SIM_TIME_VERSION, data: simTimeSection(vcpuStates.map((s) => s.simTicks)) });
  sections.push({ name: M5OP_STATS_SECTION, version: M5OP_STATS_VERSION, data: m5opStatsSection(parts.m5ops) });
  const local: Record<string, Record<string, unknown>> = {};
  const byThread = [['main', saveLocalDeviceStates(mainThreadDevices(parts))] as const, ...parts.vcpus.map((v, i) => [`vcpu${v.id}`, vcpuStates[i].deviceStates] as const)];
  for (const [thread, states] of byThread) for (const [name, state] of Object.entries(states)) (local[name] ??= {})[thread] = state;
  for (const d of parts.devices) {
    const layout = sharedLayoutOf(parts, d);
    const data: DeviceSectionData = { shared: layout ? saveSharedState(layout, d.shared) : null, local: local[d.name] ?? {} };
    sections.push({ name: deviceSection(d.name), version: DEVICE_SECTION_VERSION, data });
  }
  return sections;
}

/** The config as the manifest records it: no boot payload (its hash instead), no file backings. */
function recordedConfig(parts: MachinePartsWithVcpus): { config: unknown; bootSha256: string | null } {
  const { boot, memory, ...rest } = parts.config;
  const plainMemory = Array.isArray(memory) ? memory.map(({ backing: _backing, ...r }) => r) : memory;
  return {
    config: toTagged({ ...rest, memory: plainMemory }, 'config'),
    bootSha256: boot === undefined ? null : sha256().update(encodeSection(boot, 'config.boot')).digest('hex'),
  };
}

/** Options of Machine.checkpoint. */
export interface CheckpointOptions {
  /**
   * Write only the memory pages changed since `parent`, which must be this machine's previous
   * checkpoint, taken with `track` or itself incremental. Sections are always written whole.
   */
  readonly parent?: string;
  /**
   * Start logging the guest's writes at this checkpoint, so the next one can be incremental
   * over it. Logging costs the guest a write fault per page per checkpoint; once on, it stays on
   * (every later checkpoint resets it). Implied by `parent`.
   */
  readonly track?: boolean;
  /** Called as the memory image is written (phase `save-memory`, bytes of the image scanned). */
  readonly onProgress?: CheckpointProgressCallback;
}

/** The machine's dirty-page log, and the id of the checkpoint it started or was last reset at. */
export interface TrackingState {
  readonly tracker: DirtyPageTracker;
  lastCheckpointId: string | undefined;
  /** That checkpoint's manifest, and its bytes as written (they hold the id). */
  lastManifest?: { readonly manifest: CheckpointManifest; readonly bytes: Buffer };
}

/** Whether checkpoint directory `dir` holds a manifest of exactly these bytes (false when it cannot be read). */
function holdsManifest(dir: string, bytes: Buffer): boolean {
  let fd: number;
  try {
    fd = fs.openSync(path.join(dir, MANIFEST_FILE), 'r');
  } catch {
    return false;
  }
  try {
    if (fs.fstatSync(fd).size !== bytes.byteLength) return false;
    const read = Buffer.alloc(bytes.byteLength);
    for (let at = 0; at < read.byteLength; ) {
      const n = fs.readSync(fd, read, at, read.byteLength - at, at);
      if (n === 0) return false;
      at += n;
    }
    return read.equals(bytes);
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

/** Check `parent` names the machine's previous tracked checkpoint; returns its id. */
export function checkIncrementalParent(parent: string, dir: string, tracking: TrackingState): string {
  if (path.resolve(parent) === path.resolve(dir)) {
    throw new CheckpointError(dir, 'an incremental checkpoint cannot replace its own parent: write it to another directory', { code: 'incompatible' });
  }
  // The manifest this machine wrote last, byte for byte (moved or not): its id is known without
  // parsing and checking the manifest again (~0.5 ms of every link of a chain). Its memory image
  // is still checked as an open would: there, of the manifest's size.
  const last = tracking.lastManifest;
  if (tracking.lastCheckpointId !== undefined && last !== undefined && holdsManifest(parent, last.bytes)) {
    const image = path.join(parent, last.manifest.memory.file);
    checkMemoryImageRecord(image, native.statRecord(native.statMany([image]), 0), last.manifest.memory.bytes);
    return tracking.lastCheckpointId;
  }
  const id = CheckpointReader.open(parent).manifest.id;
  if (tracking.lastCheckpointId === undefined) {
    throw new CheckpointError(parent, `cannot be the parent: this machine logs no changes since a checkpoint (none was taken with track, or the last one failed: start a chain with checkpoint(dir, { track: true })); its id is ${id}`, { code: 'incompatible' });
  }
  if (id !== tracking.lastCheckpointId) {
    throw new CheckpointError(parent, `is not this machine's previous checkpoint: its id is ${id}, the machine's changes are logged since checkpoint ${tracking.lastCheckpointId}`, { code: 'incompatible' });
  }
  return id;
}

/**
 * Write a checkpoint of a stopped machine to `dir` (replacing one there atomically). Throws
 * LifecycleError while a vCPU runs, CheckpointError `not-saveable` naming a part that cannot
 * be saved, `incompatible` for a wrong `parent`, `io` when writing fails.
 */
export async function saveMachineCheckpoint(parts: MachinePartsWithVcpus, dir: string, options: CheckpointOptions = {}, tracking?: TrackingState): Promise<CheckpointManifest> {
  if (parts.vcpus.some((v) => v.isRunning)) throw new LifecycleError('machine', 'running', 'checkpoint (after run() returns or after stop())');
  if ((options.parent !== undefined || options.track) && !tracking) throw new CheckpointError(dir, 'this machine cannot take incremental checkpoints (no dirty-page tracking)', { code: 'not-saveable' });
  const parentId = options.parent !== undefined ? checkIncrementalParent(options.parent, dir, tracking!) : undefined;
  const sections = await gather(parts);
  const fingerprint = hostFingerprint(parts.arch.checkpoint!, parts.kvm, parts.config);
  const { config, bootSha256 } = recordedConfig(parts);
  // From here on the log is read and reset: should anything below fail, the changes it held are
  // in no checkpoint, so the chain is cut first (cleared) and the next incremental checkpoint
  // over the old parent is refused.
  if (tracking) {
    tracking.lastCheckpointId = undefined;
    tracking.lastManifest = undefined;
  }
  if (tracking && (options.track || options.parent !== undefined)) tracking.tracker.start();
  // Whether a region is anonymous memory matters only where its pages are scanned whole (a full
  // image, or a region no log covers): an incremental link of logged regions does not read
  // /proc/self/maps (~0.5 ms of every link).
  const scannedWhole = (r: MemoryRegion): boolean => parentId === undefined || !tracking!.tracker.logs(r);
  const mappings = parts.vm.regions.some(scannedWhole) ? hostMappings() : [];
  const regions: RegionToWrite[] = parts.vm.regions.map((r) => ({
    name: r.name,
    guestPhysAddr: r.guestPhysAddr,
    size: r.size,
    kvmMap: r.kvmMap,
    inAddrMap: r.inAddrMap,
    confReported: r.confReported,
    readOnly: r.readOnly,
    dirtyLog: r.dirtyLog,
    views: native.mappingById(r.mappingId).views().map((b) => new Uint8Array(b)),
    anonymous: scannedWhole(r) && isAnonymousRange(mappings, r.hostAddress, r.size),
  }));
  // The log is read (and reset) now, while nothing runs: what it held goes into this checkpoint.
  const changed = tracking?.tracker.active ? parts.vm.regions.map((r) => tracking.tracker.collect(r)) : undefined;
  let manifest: CheckpointManifest | undefined;
  try {
    await replaceDirectoryAtomically(dir, async (temp) => {
      const writer = new CheckpointWriter(temp);
      const imageBytes = regions.reduce((n, r) => n + r.size, 0);
      const progress = phaseReporter(options.onProgress, 'save-memory', imageBytes);
      const memory = parentId !== undefined ? regions.map((r, i) => ({ ...r, changed: changed![i] ?? 'all' })) : regions;
      const parentLink = parentId !== undefined ? { id: parentId, path: path.relative(path.resolve(dir), path.resolve(options.parent!)) } : null;
      // Every section is encoded before the first write (one that cannot be fails the save at
      // once); then every file's and directory's fsync runs beside the image's (writer.write).
      manifest = await writer.write(sections, memory, parentLink, {
        arch: parts.arch.arch,
        kvmtsVersion: kvmtsVersion(),
        createdAt: new Date().toISOString(),
        config,
        bootSha256,
        vcpus: parts.vcpus.length,
        cpu: fingerprint,
      }, progress);
    });
  } catch (e) {
    if (e instanceof KvmtsError) throw e;
    throw new CheckpointError(dir, `writing the checkpoint failed: ${(e as Error).message}`, { code: 'io', cause: e });
  }
  if (tracking?.tracker.active) {
    tracking.lastCheckpointId = manifest!.id;
    // The bytes CheckpointWriter wrote (should they differ, the next link reads its parent whole).
    tracking.lastManifest = { manifest: manifest!, bytes: Buffer.from(serializeManifest(manifest!)) };
  }
  return manifest!;
}
