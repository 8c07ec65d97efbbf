import type { KvmCap } from '../abi/capabilities';
import type { Kvm } from '../kvm/kvm';
import type { GuestMemory } from './guest-memory';
import type { KvmDevice } from './kvm-device';
import type { Lifecycle, VmPhase } from './lifecycle';
import type { MemoryRegion, MemoryRegionOptions } from './memory-region';
import type { VcpuFd } from './vcpu-fd';

export interface CoalescedZone {
  readonly base: number;
  readonly size: number;
  /** true: a port range (KVM_CAP_COALESCED_PIO, x86); false: guest-physical MMIO. */
  readonly pio: boolean;
}

export interface IoeventfdOptions {
  readonly address: number;
  /** Access length that triggers: 0 (any), 1, 2, 4 or 8. */
  readonly length: 0 | 1 | 2 | 4 | 8;
  readonly pio?: boolean;
  /** Only writes of this value trigger. */
  readonly datamatch?: bigint;
  /** Eventfd to signal; created (and owned by the VM) when omitted. */
  readonly fd?: number;
}

/** How a VM is created (registered under VM_OPTIONS by the machine). */
export interface KvmVmOptions {
  /** KVM_CREATE_VM machine type (0 on x86; the IPA size on arm64). Default 0. */
  readonly type?: number;
  /** Cap below the kernel's KVM_CAP_NR_MEMSLOTS (to keep slots in reserve). */
  readonly maxMemorySlots?: number;
}

/**
 * The VM contract: one KVM virtual machine and what lives in it. The machine resolves it from
 * its container under KVM_VM (default `DefaultKvmVM`), so a user can register a subclass that
 * logs slot changes, or a wholly different implementation.
 */
/** One KVM_IRQFD registration: writing `fd` raises `gsi`. */
export interface IrqfdBinding {
  readonly gsi: number;
  readonly fd: number;
}

export interface KvmVM {
  readonly fd: number;
  readonly kvm: Kvm;
  readonly type: number;
  readonly lifecycle: Lifecycle;
  readonly phase: VmPhase;
  readonly memorySlotLimit: number;
  checkExtension(cap: KvmCap): number;
  hasCapability(cap: KvmCap): boolean;
  enableCapability(cap: KvmCap, args?: readonly (number | bigint)[]): void;

  readonly regions: readonly MemoryRegion[];
  addMemoryRegion(options: MemoryRegionOptions): MemoryRegion;
  memory(): GuestMemory;

  readonly coalescedZones: readonly CoalescedZone[];
  addCoalescedZone(zone: CoalescedZone): void;
  coalescedRingPage(): number;

  setIrqLine(irq: number, level: boolean): void;
  addIrqfd(gsi: number, eventFd?: number): number;
  removeIrqfd(gsi: number, eventFd: number): void;
  /** The eventfds bound to GSIs now (KVM_IRQFD), oldest first: what a checkpoint re-binds (checkpoint/irqfd-state.ts). */
  irqfds(): readonly IrqfdBinding[];
  addIoeventfd(options: IoeventfdOptions): number;

  createDevice(type: number): KvmDevice;
  canCreateDevice(type: number): boolean;

  readonly vcpuIds: number[];
  vcpu(id: number): VcpuFd | undefined;
  createVcpu(id: number): VcpuFd;

  close(): void;
}
