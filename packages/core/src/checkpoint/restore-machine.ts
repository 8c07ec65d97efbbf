/**
 * Restoring a machine from a checkpoint directory (restoreMachine). Everything in the checkpoint
 * is checked before it is used: the manifest (format version, checksum, architecture), every
 * section's checksum (read up front), the CPU fingerprint against this host, the memory image's
 * checksum. Then the machine is composed as createMachine does, with these differences:
 *
 *  - guest RAM is the memory image mapped MAP_PRIVATE (no copy; the file is never written); for
 *    an incremental checkpoint, the chain's base image, with every link's pages copied over it
 *    oldest first (checkpoint-chain.ts, incremental-image.ts);
 *  - no boot payload is loaded;
 *  - before the vCPU threads start: the arch's in-kernel state and registered components, then
 *    each device's shared state;
 *  - once the threads are ready, before anything runs: each vCPU's ThreadContext, each thread's
 *    device-local state, then every device's afterRestore (main thread).
 */
import * as fs from 'node:fs';
import { CheckpointError, ConfigError, KvmtsError } from '../errors/errors';
import { describeValue } from '../errors/describe-value';
import { checkpointIo } from './checkpoint-read';
import { restoreSharedState, type SavedSharedState } from '../devices/shared-state-checkpoint';
import type { MachineConfig } from '../machine/machine-config';
import type { MemoryRegionOptions } from '../vm/memory-region';
import { CheckpointReader, type SectionState } from './checkpoint-files';
import { fromTagged } from './tagged-json';
import { fingerprintMismatches } from './fingerprint';
import { restoreLocalDeviceStates } from './device-states';
import { sha256OfViews } from './sparse-image';
import { readPageMap, resolveChain } from './checkpoint-chain';
import { applyIncrement, type ImageTarget } from './incremental-image';
import * as native from '@kvmts/native';
import {
  DEVICE_SECTION_VERSION,
  checkpointComponents,
  checkpointContext,
  deviceSection,
  mainThreadDevices,
  sharedLayoutOf,
  vcpuSection,
  type DeviceSectionData,
  type MachineParts,
  type MachinePartsWithVcpus,
} from './machine-parts';

/** What Machine.create calls back while composing a restored machine. */
export interface MachineRestoreHooks {
  /** After the VM, its vCPUs and the devices' shared buffers exist; before the vCPU threads start. */
  beforeVcpuThreads(parts: MachineParts): void;
  /** Once every vCPU thread is ready; before anything runs. */
  afterVcpuThreads(parts: MachinePartsWithVcpus): Promise<void>;
}

/**
 * The settings a restore may change: host-side ones only. Everything else (memory, devices,
 * vCPUs, arch options, boot) is the saved machine's and comes from the checkpoint.
 */
export const RESTORE_OVERRIDABLE = ['kvmPath', 'stopTimeoutMs', 'plugins', 'unclaimed', 'memoryLimit'] as const;

/** Settings a restore may change (RESTORE_OVERRIDABLE); everything else comes from the checkpoint. */
export type RestoreConfigOverrides = Partial<Pick<MachineConfig, (typeof RESTORE_OVERRIDABLE)[number]>>;

/** `options.config` checked at run time: a JavaScript caller (or a JSON file) may pass any key. */
export function checkRestoreOverrides(overrides: unknown): RestoreConfigOverrides {
  if (overrides === undefined) return {};
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) throw new ConfigError('config', `must be an object of settings to override, got ${describeValue(overrides)}`);
  for (const key of Object.keys(overrides)) {
    if (!(RESTORE_OVERRIDABLE as readonly string[]).includes(key)) {
      throw new ConfigError(`config.${key}`, `a restore cannot change it: it comes from the checkpoint (a restore may override ${RESTORE_OVERRIDABLE.join(', ')})`);
    }
  }
  return overrides as RestoreConfigOverrides;
}

export interface RestoreOptions {
  /** Refuse a checkpoint of another architecture than this one (`arch` CheckpointError). */
  readonly arch?: string;
  readonly config?: RestoreConfigOverrides;
  /**
   * Check the (base) memory image's SHA-256 (reads every page once: seconds for GiBs, the bulk of
   * a restore's time). Default true. The links of an incremental chain are always checked: that
   * costs only the pages they hold.
   */
  readonly verifyMemory?: boolean;
}

function checkVersion(where: string, section: SectionState, expected: number): void {
  if (section.version !== expected) {
    throw new CheckpointError(where, `was saved as version ${section.version}, this build restores version ${expected}: restore with the kvmts that wrote it`, { code: 'incompatible' });
  }
}

/** Run `work` and name `where` in any failure that is not already a CheckpointError. */
async function naming<T>(where: string, work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(where, `cannot be restored: ${(e as Error).message}`, { code: 'incompatible', cause: e });
  }
}

/**
 * A restore plan for one checkpoint: the config to create the machine from (memory regions
 * backed by the image file, whose fd `close()` releases) and the hooks that put the state back.
 */
export class MachineRestore implements MachineRestoreHooks {
  readonly config: MachineConfig;
  private readonly sections = new Map<string, SectionState>();
  private readonly imageFd: number;
  /** The checkpoints whose memory makes this one's, base first (just this one when it is full). */
  private readonly chain: readonly CheckpointReader[];

  constructor(
    private readonly reader: CheckpointReader,
    private readonly options: RestoreOptions = {},
  ) {
    const m = reader.manifest;
    const where = reader.dir;
    if (options.arch !== undefined && options.arch !== m.arch) {
      throw new CheckpointError(where, `was made on ${m.arch}, this machine is ${options.arch}: restore it on a ${m.arch} host`, { code: 'arch' });
    }
    // Every section is read (and its checksum checked) before anything is created.
    for (const s of m.sections) this.sections.set(s.name, reader.section(s.name));
    const saved = fromTagged(m.config, `${where} config`) as MachineConfig;
    if (saved.arch !== m.arch) throw new CheckpointError(`${where} config`, `says arch ${String(saved.arch)}, the manifest ${m.arch}`, { code: 'corrupt' });
    if ((saved.cpus ?? 1) !== m.vcpus) throw new CheckpointError(`${where} config`, `says ${saved.cpus ?? 1} vCPUs, the manifest ${m.vcpus}`, { code: 'corrupt' });
    this.chain = resolveChain(reader);
    const overrides = checkRestoreOverrides(options.config);
    const imagePath = this.chain[0].memoryImagePath;
    this.imageFd = checkpointIo(imagePath, 'open', () => fs.openSync(imagePath, 'r'));
    const memory: MemoryRegionOptions[] = m.memory.regions.map(({ fileOffset, ...r }) => ({ ...r, backing: { fd: this.imageFd, offset: fileOffset } }));
    this.config = { ...saved, memory, boot: undefined, ...overrides };
  }

  /** Release the image file's fd (the machine's mappings keep the file). */
  close(): void {
    fs.closeSync(this.imageFd);
  }

  private section(name: string): SectionState {
    const s = this.sections.get(name);
    if (!s) throw new CheckpointError(`${this.reader.dir} section '${name}'`, 'is not in this checkpoint, but this machine has that part: was it saved with other devices or plugins?', { code: 'missing' });
    return s;
  }

  private where(name: string): string {
    return `${this.reader.dir} section '${name}'`;
  }

  beforeVcpuThreads(parts: MachineParts): void {
    const m = this.reader.manifest;
    const support = parts.arch.checkpoint;
    if (!support) throw new CheckpointError(`arch plugin '${parts.arch.arch}'`, 'cannot restore machines: it has no checkpoint support (ArchPlugin.checkpoint)', { code: 'arch' });
    if (support.nodeArch !== process.arch) {
      throw new CheckpointError(this.reader.dir, `was made on ${m.arch}, which runs on '${support.nodeArch}' hosts; this host is '${process.arch}'`, { code: 'arch' });
    }
    const mismatches = fingerprintMismatches(m.cpu, support.cpuFingerprint(parts.kvm, parts.config));
    if (mismatches.length > 0) {
      throw new CheckpointError(this.reader.dir, `this host's CPU cannot continue the saved guest: ${mismatches.join('; ')}. Restore on a host with the same CPU model and features`, { code: 'cpu-mismatch' });
    }
    const base = this.chain[0];
    if (this.options.verifyMemory !== false) {
      const views = parts.vm.regions.flatMap((r) => native.mappingById(r.mappingId).views().map((b) => new Uint8Array(b)));
      if (sha256OfViews(views) !== base.manifest.memory.sha256) {
        throw new CheckpointError(`${base.dir}/${base.manifest.memory.file}`, 'checksum mismatch: the memory image is damaged', { code: 'corrupt' });
      }
    }
    this.applyLinks(parts);
    const ctx = checkpointContext(parts);
    const components = checkpointComponents(parts);
    const claimed = new Set<string>([...components.map((c) => c.name), ...parts.devices.map((d) => deviceSection(d.name))]);
    for (let id = 0; id < m.vcpus; id++) claimed.add(vcpuSection(id));
    for (const s of m.sections) {
      if (!claimed.has(s.name)) throw new CheckpointError(this.where(s.name), 'no part of this machine restores it: load the plugin or device that saved it', { code: 'incompatible' });
    }
    for (const c of components) {
      const s = this.section(c.name);
      checkVersion(this.where(c.name), s, c.version);
      try {
        c.restore(ctx, s.data);
      } catch (e) {
        if (e instanceof CheckpointError) throw e;
        throw new CheckpointError(`component '${c.name}'`, `cannot be restored: ${(e as Error).message}`, { code: e instanceof KvmtsError ? 'incompatible' : 'corrupt', cause: e });
      }
    }
    for (const d of parts.devices) {
      const name = deviceSection(d.name);
      const s = this.section(name);
      checkVersion(this.where(name), s, DEVICE_SECTION_VERSION);
      const data = s.data as DeviceSectionData;
      const layout = sharedLayoutOf(parts, d);
      if (layout && data.shared) restoreSharedState(layout, d.shared, data.shared as SavedSharedState);
      else if (layout || data.shared) throw new CheckpointError(this.where(name), layout ? 'holds no shared state, but the device has a shared layout' : 'holds shared state, but the device has no shared layout', { code: 'incompatible' });
    }
  }

  /** Copy every incremental link's pages over the base image in guest RAM, oldest first. */
  private applyLinks(parts: MachineParts): void {
    if (this.chain.length === 1) return;
    const targets: ImageTarget[] = this.reader.manifest.memory.regions.map((saved) => {
      const r = parts.vm.regions.find((x) => x.name === saved.name);
      if (!r) throw new CheckpointError(this.reader.dir, `memory region '${saved.name}' was not created`, { code: 'incompatible' });
      return { fileOffset: saved.fileOffset, size: r.size, views: native.mappingById(r.mappingId).views().map((b) => new Uint8Array(b)) };
    });
    for (const link of this.chain.slice(1)) {
      const memory = link.manifest.memory;
      const fd = checkpointIo(link.memoryImagePath, 'open', () => fs.openSync(link.memoryImagePath, 'r'));
      try {
        applyIncrement({ where: `${link.dir}/${memory.file}`, imageFd: fd, pageMap: readPageMap(link), pages: memory.parent!.pages, sha256: memory.sha256 }, targets, true);
      } finally {
        fs.closeSync(fd);
      }
    }
  }

  async afterVcpuThreads(parts: MachinePartsWithVcpus): Promise<void> {
    const support = parts.arch.checkpoint!;
    for (const v of parts.vcpus) {
      const name = vcpuSection(v.id);
      const s = this.section(name);
      checkVersion(this.where(name), s, support.threadContextVersion);
      await naming(this.where(name), () => v.call('setThreadContext', s.data));
    }
    const localOf = (thread: string): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const d of parts.devices) {
        const local = (this.section(deviceSection(d.name)).data as DeviceSectionData).local ?? {};
        if (thread in local) out[d.name] = local[thread];
      }
      return out;
    };
    for (const v of parts.vcpus) await v.call('restoreDeviceStates', localOf(`vcpu${v.id}`));
    const main = mainThreadDevices(parts);
    restoreLocalDeviceStates(main, localOf('main'));
    for (const { device } of main) device.afterRestore?.();
  }
}
