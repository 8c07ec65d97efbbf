/**
 * Restoring a machine from a checkpoint directory (restoreMachine). Everything in the checkpoint
 * is checked before it is used: the manifest (format version, checksum, architecture), every
 * section's checksum (read up front), the CPU fingerprint against this host, the memory image's
 * page checksums (unless verifyMemory is false; incremental links always). Then the machine is
 * composed as createMachine does, with these differences:
 *
 *  - guest RAM is the memory image mapped MAP_PRIVATE (no copy; the file is never written); for
 *    an incremental checkpoint, the chain's base image, with every link's pages copied over it
 *    oldest first (checkpoint-chain.ts, incremental-image.ts);
 *  - no boot payload is loaded;
 *  - before the vCPU threads start: the arch's in-kernel state and registered components, then
 *    each device's shared state;
 *  - once the threads are ready, before anything runs: each vCPU's ThreadContext, each thread's
 *    device-local state, then every device's afterRestore (main thread).
 *
 * The same steps serve a restore into a machine that exists already (restore-into.ts), which
 * calls them one by one: checkFits, remapMemory, loadMemory, restoreVmState, afterVcpuThreads.
 */
import * as fs from 'node:fs';
import { CheckpointError, ConfigError, KvmtsError } from '../errors/errors';
import { describeValue } from '../errors/describe-value';
import { checkpointIo } from './checkpoint-read';
import { restoreSharedState, type SavedSharedState } from '../devices/shared-state-checkpoint';
import type { MachineConfig } from '../machine/machine-config';
import type { MemoryRegionOptions } from '../vm/memory-region';
import type { CheckpointComponent } from './component';
import { CheckpointReader, type SectionState } from './checkpoint-files';
import { IMAGE_PAGE_SIZE } from './memory-image';
import { fromTagged } from './tagged-json';
import { hostFingerprint, hostMismatches } from './host-fingerprint';
import { restoreLocalDeviceStates } from './device-states';
import { contextKey, restoreVcpuThread } from './vcpu-state-transfer';
import { M5OP_STATS_SECTION, MACHINE_STATE_SECTIONS, SIM_TIME_SECTION, restoreM5opStats, savedTicks } from './machine-state';
import { verifyMemoryImage, type ImageTarget } from './memory-image';
import { resolveChain } from './checkpoint-chain';
import { applyIncrement } from './incremental-image';
import { phaseReporter, type CheckpointProgressCallback } from './progress';
import * as native from '@kvmts/native';
import { copyPlainData } from '../cpu/thread-context';
import { settleAll } from '../util/settle-all';
import {
  DEVICE_SECTION_VERSION,
  checkpointComponents,
  checkpointContext,
  deviceSection,
  mainThreadDevices,
  sharedLayoutOf,
  VCPU_SECTION_PREFIX,
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
   * Check the (base) memory image: every stored page against its CRC-32, and that the file holds
   * no data where its page map says zero. It reads every stored page once (and so loads it into
   * guest RAM up front, instead of on first touch). Default true. The links of an incremental
   * chain are always checked: that costs only the pages they hold.
   */
  readonly verifyMemory?: boolean;
  /** Called while guest memory is checked and incremental links are applied (see CheckpointProgress). */
  readonly onProgress?: CheckpointProgressCallback;
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
  private readonly sections = new Map<string, SectionState>();
  private readonly imageFd: number;
  /** The checkpoints whose memory makes this one's, base first (just this one when it is full). */
  private readonly chain: readonly CheckpointReader[];
  private readonly overrides: RestoreConfigOverrides;
  private configMade: MachineConfig | undefined;

  constructor(
    private readonly reader: CheckpointReader,
    private readonly options: RestoreOptions = {},
  ) {
    const m = reader.manifest;
    const where = reader.dir;
    if (options.arch !== undefined && options.arch !== m.arch) {
      throw new CheckpointError(where, `was made on ${m.arch}, this machine is ${options.arch}: restore it on a ${m.arch} host`, { code: 'arch' });
    }
    // Every section is read (and its checksum checked) before anything is created, shared: the
    // values may be the checked checkpoint's own (verified-cache.ts), so what this plan hands to
    // code that may keep or change it — a component, the m5op statistics, a main-thread device —
    // is a copy; the rest only travels to a vCPU thread (postMessage clones it), is named there by
    // its checksum (vcpu-state-transfer.ts), or is only read.
    for (const s of m.sections) this.sections.set(s.name, reader.section(s.name, { shared: true }));
    // The saved config's arch and vCPU count, read from its tagged JSON (strings and numbers are
    // themselves there): a warm restore never needs the config decoded (see `config`).
    const saved = m.config as { readonly arch?: unknown; readonly cpus?: unknown };
    if (saved.arch !== m.arch) throw new CheckpointError(`${where} config`, `says arch ${String(saved.arch)}, the manifest ${m.arch}`, { code: 'corrupt' });
    if ((saved.cpus ?? 1) !== m.vcpus) throw new CheckpointError(`${where} config`, `says ${String(saved.cpus ?? 1)} vCPUs, the manifest ${m.vcpus}`, { code: 'corrupt' });
    this.chain = resolveChain(reader);
    this.overrides = checkRestoreOverrides(options.config);
    const imagePath = this.chain[0].memoryImagePath;
    this.imageFd = checkpointIo(imagePath, 'open', () => fs.openSync(imagePath, 'r'));
  }

  /**
   * The config to create the machine from (restoreMachine): the saved one, decoded, its memory
   * regions backed by the image file, no boot payload, the host-side overrides. Made on first use.
   */
  get config(): MachineConfig {
    if (this.configMade === undefined) {
      const m = this.reader.manifest;
      const saved = fromTagged(m.config, `${this.reader.dir} config`) as MachineConfig;
      const memory: MemoryRegionOptions[] = m.memory.regions.map(({ fileOffset, ...r }) => ({ ...r, backing: { fd: this.imageFd, offset: fileOffset } }));
      this.configMade = { ...saved, memory, boot: undefined, ...this.overrides };
    }
    return this.configMade;
  }

  private components: { readonly parts: MachineParts; readonly list: readonly CheckpointComponent[] } | undefined;

  /** The machine's checkpoint components, looked up once per plan (checkFits and restoreVmState both need them). */
  private componentsOf(parts: MachineParts): readonly CheckpointComponent[] {
    if (this.components?.parts !== parts) this.components = { parts, list: checkpointComponents(parts) };
    return this.components.list;
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

  /** The manifest's entry for section `name` (its checksum names a vCPU context: vcpu-state-transfer.ts). */
  private sectionEntry(name: string): { readonly sha256: string } {
    const entry = this.reader.manifest.sections.find((s) => s.name === name);
    if (!entry) throw new CheckpointError(this.where(name), 'is not in this checkpoint', { code: 'missing' });
    return entry;
  }

  private where(name: string): string {
    return `${this.reader.dir} section '${name}'`;
  }

  beforeVcpuThreads(parts: MachineParts): void {
    this.checkFits(parts);
    this.loadMemory(parts);
    this.restoreVmState(parts);
  }

  /**
   * Everything that can refuse the checkpoint without touching the machine: the arch plugin, the
   * host CPU, and that every saved section has a part of this machine restoring it and every part
   * its section, in the version it restores.
   */
  checkFits(parts: MachineParts): void {
    const m = this.reader.manifest;
    const support = parts.arch.checkpoint;
    if (!support) throw new CheckpointError(`arch plugin '${parts.arch.arch}'`, 'cannot restore machines: it has no checkpoint support (ArchPlugin.checkpoint)', { code: 'arch' });
    if (support.nodeArch !== process.arch) {
      throw new CheckpointError(this.reader.dir, `was made on ${m.arch}, which runs on '${support.nodeArch}' hosts; this host is '${process.arch}'`, { code: 'arch' });
    }
    const mismatches = hostMismatches(m.cpu, hostFingerprint(support, parts.kvm, parts.config));
    if (mismatches.length > 0) {
      throw new CheckpointError(this.reader.dir, `this host's CPU cannot continue the saved guest: ${mismatches.join('; ')}. Restore on a host with the same CPU model and features`, { code: 'cpu-mismatch' });
    }
    const components = this.componentsOf(parts);
    const claimed = new Set<string>([...components.map((c) => c.name), ...parts.devices.map((d) => deviceSection(d.name)), ...MACHINE_STATE_SECTIONS.keys()]);
    for (let id = 0; id < m.vcpus; id++) claimed.add(vcpuSection(id));
    for (const s of m.sections) {
      if (!claimed.has(s.name)) throw new CheckpointError(this.where(s.name), 'no part of this machine restores it: load the plugin or device that saved it', { code: 'incompatible' });
    }
    for (const c of components) checkVersion(this.where(c.name), this.section(c.name), c.version);
    for (const d of parts.devices) checkVersion(this.where(deviceSection(d.name)), this.section(deviceSection(d.name)), DEVICE_SECTION_VERSION);
    for (let id = 0; id < m.vcpus; id++) checkVersion(this.where(vcpuSection(id)), this.section(vcpuSection(id)), support.threadContextVersion);
    for (const [name, version] of MACHINE_STATE_SECTIONS) checkVersion(this.where(name), this.section(name), version);
    savedTicks(this.section(SIM_TIME_SECTION).data, m.vcpus, this.where(SIM_TIME_SECTION));
  }

  /** The VM's state: the arch's in-kernel components and registered ones, then each device's shared state. */
  restoreVmState(parts: MachineParts): void {
    const ctx = checkpointContext(parts);
    const components = this.componentsOf(parts);
    for (const c of components) {
      const s = this.section(c.name);
      checkVersion(this.where(c.name), s, c.version);
      try {
        c.restore(ctx, copyPlainData(s.data));
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

  /**
   * Restoring into a machine that exists already: map the base image over each region's RAM in
   * place (MAP_FIXED, copy-on-write as at creation). Addresses, mapping ids and KVM's memory slots
   * stay as they are; the kernel drops what KVM had mapped of the old pages. The regions must be
   * the saved ones (restore-into.ts checks that first).
   */
  remapMemory(parts: MachineParts): void {
    const c = native.constants;
    for (const saved of this.reader.manifest.memory.regions) {
      const r = parts.vm.regions.find((x) => x.name === saved.name);
      if (!r) throw new CheckpointError(this.reader.dir, `memory region '${saved.name}' is not in this machine`, { code: 'incompatible' });
      native.remapFile(native.mappingById(r.mappingId), c.PROT_READ | c.PROT_WRITE, c.MAP_PRIVATE | c.MAP_NORESERVE, this.imageFd, saved.fileOffset);
    }
  }

  /** Guest RAM as the image lays it out (every saved region must exist in `parts`). */
  private targets(parts: MachineParts): ImageTarget[] {
    return this.reader.manifest.memory.regions.map((saved) => {
      const r = parts.vm.regions.find((x) => x.name === saved.name);
      if (!r) throw new CheckpointError(this.reader.dir, `memory region '${saved.name}' was not created`, { code: 'incompatible' });
      return { name: r.name, guestPhysAddr: r.guestPhysAddr, fileOffset: saved.fileOffset, size: r.size, views: native.mappingById(r.mappingId).views().map((b) => new Uint8Array(b)) };
    });
  }

  /**
   * Guest RAM maps the base image: check it (unless verifyMemory is false), then copy every
   * incremental link's pages over it, oldest first (always checked).
   */
  loadMemory(parts: MachineParts): void {
    const links = this.chain.slice(1);
    const verify = this.options.verifyMemory !== false;
    if (!verify && links.length === 0) return; // the mapping is the memory: nothing to read or copy
    const targets = this.targets(parts);
    const base = this.chain[0];
    const baseFile = `${base.dir}/${base.manifest.memory.file}`;
    if (verify) {
      const progress = phaseReporter(this.options.onProgress, 'verify-memory', base.manifest.memory.pages * IMAGE_PAGE_SIZE);
      verifyMemoryImage(baseFile, this.imageFd, base.pageMap(), base.pageChecksums(), targets, progress);
    }
    if (links.length === 0) return;
    const progress = phaseReporter(this.options.onProgress, 'apply-increments', links.reduce((n, l) => n + l.manifest.memory.pages * IMAGE_PAGE_SIZE, 0));
    let before = 0;
    for (const link of links) {
      const memory = link.manifest.memory;
      const fd = checkpointIo(link.memoryImagePath, 'open', () => fs.openSync(link.memoryImagePath, 'r'));
      try {
        const done = before;
        applyIncrement({ where: `${link.dir}/${memory.file}`, imageFd: fd, pageMap: link.pageMap(), checksums: link.pageChecksums(), pages: memory.pages }, targets, progress && ((bytes) => progress(done + bytes)));
      } finally {
        fs.closeSync(fd);
      }
      before += memory.pages * IMAGE_PAGE_SIZE;
      progress?.(before);
    }
  }

  async afterVcpuThreads(parts: MachinePartsWithVcpus): Promise<void> {
    const support = parts.arch.checkpoint!;
    // A vCPU thread's part is cloned by postMessage; the main thread's devices get a copy (a device may keep what it is given).
    const localOf = (thread: string, copy: (v: unknown) => unknown = (v) => v): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const d of parts.devices) {
        const local = (this.section(deviceSection(d.name)).data as DeviceSectionData).local ?? {};
        if (thread in local) out[d.name] = copy(local[thread]);
      }
      return out;
    };
    const ticks = savedTicks(this.section(SIM_TIME_SECTION).data, parts.vcpus.length, this.where(SIM_TIME_SECTION));
    // One round trip per vCPU thread, all threads at once: context, device-local state, ticks (vcpu-state.ts).
    const restored = parts.vcpus.map((v) => {
      const name = vcpuSection(v.id);
      const s = this.section(name);
      checkVersion(this.where(name), s, support.threadContextVersion);
      const state = { threadContext: s.data, deviceStates: localOf(`vcpu${v.id}`), simTicks: ticks[v.id] };
      const key = contextKey(parts.arch.arch, s.version, this.sectionEntry(name).sha256);
      return naming(this.where(name), () => restoreVcpuThread(v, state, key));
    });
    await settleAll(restored);
    restoreM5opStats(parts.m5ops, copyPlainData(this.section(M5OP_STATS_SECTION).data), this.where(M5OP_STATS_SECTION));
    const main = mainThreadDevices(parts);
    restoreLocalDeviceStates(main, localOf('main', copyPlainData));
    for (const { device } of main) device.afterRestore?.();
  }
}
