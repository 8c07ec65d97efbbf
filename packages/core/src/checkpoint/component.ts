/**
 * The checkpoint contract (Firecracker's `Persist` shape): every stateful part of a machine
 * saves itself as one section of plain data and restores from it. The machine itself provides
 * the memory image, one section per vCPU (its ThreadContext, through the arch plugin) and one
 * per device (shared layout + per-thread local state); an arch plugin adds its in-kernel VM
 * state (ArchCheckpointSupport.vmComponents); anyone else registers a component under
 * CHECKPOINT_COMPONENT in the machine's container.
 */
import type { Kvm } from '../kvm/kvm';
import type { KvmVM } from '../vm/kvm-vm';
import type { GuestMemory } from '../vm/guest-memory';
import type { MachineConfig } from '../machine/machine-config';
import type { CpuFingerprint } from './fingerprint';

/** What a component saves from and restores into (main thread; no vCPU runs meanwhile). */
export interface CheckpointContext {
  readonly kvm: Kvm;
  readonly vm: KvmVM;
  readonly memory: GuestMemory;
  readonly config: MachineConfig;
}

/**
 * One stateful part of a machine. `save` returns plain data — objects, arrays, numbers,
 * strings, booleans, null, bigint and Uint8Array (anything else fails the checkpoint, naming
 * the component) — and `restore` receives it back, after the VM and its vCPUs exist and before
 * any vCPU runs. A part whose state cannot be saved right now throws a `not-saveable`
 * CheckpointError from `save`.
 */
export interface CheckpointComponent {
  /** Section name, unique in a machine: lower-case letters, digits, '.', '-', e.g. 'x86.pit'. */
  readonly name: string;
  /** Version of the saved data's shape: a restore refuses a section of another version. */
  readonly version: number;
  save(ctx: CheckpointContext): unknown;
  restore(ctx: CheckpointContext, state: unknown): void;
}

/** What an arch plugin implements to make its machines checkpointable (ArchPlugin.checkpoint). */
export interface ArchCheckpointSupport {
  /** `process.arch` of the hosts this plugin's KVM runs on ('x64' for x86_64): a checkpoint of this arch restores only there. */
  readonly nodeArch: string;
  /** Version of the ThreadContext's plain-data form (`toJSON()` / `threadContextFromData`) in the vCPU sections. */
  readonly threadContextVersion: number;
  /** The CPU a guest of `config` runs on, as this host offers it. */
  cpuFingerprint(kvm: Kvm, config: MachineConfig): CpuFingerprint;
  /** In-kernel VM state of a machine of `config` (x86: PIT, PICs and IOAPIC, kvmclock). */
  vmComponents(config: MachineConfig): CheckpointComponent[];
}

/** Section names the machine reserves for itself. */
export const MACHINE_SECTION_PREFIXES = ['vcpu.', 'device.', 'machine.'] as const;

const SECTION_NAME = /^[a-z0-9][a-z0-9._@-]*$/;

export function isValidSectionName(name: string): boolean {
  return SECTION_NAME.test(name) && name.length <= 100;
}
