import * as fs from 'node:fs';
import * as native from '@kvmts/native';
import { KvmIoctl } from '../abi/ioctls';
import { KvmCap } from '../abi/capabilities';
import {
  CoalescedMmioZoneLayout,
  CreateDeviceLayout,
  EnableCapLayout,
  IoeventfdLayout,
  KVM_IOEVENTFD_FLAG_DATAMATCH,
  KVM_IOEVENTFD_FLAG_DEASSIGN,
  KVM_IOEVENTFD_FLAG_PIO,
  KVM_IRQFD_FLAG_DEASSIGN,
  KVM_MEM_LOG_DIRTY_PAGES,
  KVM_MEM_READONLY,
  UserspaceMemoryRegionLayout,
} from '../abi/kvm-run';
import { inject, injectable } from 'tsyringe';
import { ConfigError, LifecycleError } from '../errors/errors';
import { NamedRangeSet, describeRange } from '../layout/named-range-set';
import { KVM, VM_OPTIONS } from '../di/tokens';
import type { Kvm } from '../kvm/kvm';
import { kvmIoctl, nativeCall } from '../kvm/ioctl';
import { Lifecycle, type VmPhase } from './lifecycle';
import { GUEST_PAGE_SIZE, type MemoryBacking, type MemoryRegion, type MemoryRegionOptions } from './memory-region';
import { GuestMemory } from './guest-memory';
import { KvmDevice } from './kvm-device';
import { VcpuFd } from './vcpu-fd';
import { IrqLineDriver } from './irq-line';
import { irqfdIoctl, irqfdsDivertedBy } from './irqfd-ioctl';
import type { CoalescedZone, IoeventfdBinding, IoeventfdOptions, IrqfdBinding, KvmVM, KvmVmOptions } from './kvm-vm';

/** What to do when mapping guest memory fails, by errno code. */
const MMAP_HINTS = {
  ENOMEM: 'the host refused the memory (overcommit_memory 2 counts the whole region): ask for less, or lower memoryLimit',
  EAGAIN: 'the host refused the memory (locked-memory limit): ask for less',
} as const;

/** KVM maps guest memory in blocks of this size where host and guest addresses agree modulo it. */
const GUEST_BLOCK_SIZE = 2 * 1024 * 1024;

/** How guest RAM is placed: 2 MiB-aligned when it spans a block at all, huge pages when wanted. */
export function guestRamPlacement(size: number, hugePages: boolean): native.MmapPlacement {
  return { align: size >= GUEST_BLOCK_SIZE ? GUEST_BLOCK_SIZE : 0, hugePages };
}

/** Slots KVM reserves internally on x86 (APIC access, identity map, TSS); never ours. */
const DEFAULT_SLOT_LIMIT = 32;

/**
 * The fd of a file backing, checked: a page-aligned offset, and a file long enough — touching a
 * page of a MAP_PRIVATE file mapping past the file's end is SIGBUS, which would kill the process
 * on the guest's first access instead of failing here.
 */
function checkBacking(backing: MemoryBacking, size: number, where: string): number {
  if (!Number.isSafeInteger(backing.offset) || backing.offset < 0 || backing.offset % GUEST_PAGE_SIZE !== 0) {
    throw new ConfigError(`${where}.backing.offset`, `${backing.offset} is not a non-negative multiple of the ${GUEST_PAGE_SIZE}-byte page size`);
  }
  let fileSize: number;
  try {
    fileSize = fs.fstatSync(backing.fd).size;
  } catch (e) {
    throw new ConfigError(`${where}.backing.fd`, `fd ${backing.fd} is not an open file (${(e as Error).message})`);
  }
  if (fileSize < backing.offset + size) {
    throw new ConfigError(`${where}.backing`, `the file is ${fileSize} bytes, the region needs ${backing.offset + size} (offset ${backing.offset} + size ${size})`);
  }
  return backing.fd;
}

/**
 * The KvmVM kvmts ships: one KVM virtual machine, a shared-memory domain. Owns its fd, memory
 * slots and their host mappings, coalesced zones, irqfd/ioeventfd registrations, in-kernel
 * devices and vCPU fds; close() releases all of them (slots are removed before their memory is
 * unmapped). Registered under KVM_VM by default; subclass it to observe or change behaviour.
 */
@injectable()
export class DefaultKvmVM implements KvmVM {
  readonly fd: number;
  readonly type: number;
  readonly lifecycle = new Lifecycle('KvmVM');
  private readonly regionList: MemoryRegion[] = [];
  /** Regions in the guest-physical address map (inAddrMap), for the overlap check. */
  private readonly addressMap = new NamedRangeSet('guest-physical memory');
  private readonly mappings = new Map<number, native.Mapping>();
  private readonly zones: CoalescedZone[] = [];
  private readonly devices: KvmDevice[] = [];
  private readonly vcpus = new Map<number, VcpuFd>();
  private readonly ownedFds: number[] = [];
  /** KVM_IRQFD registrations in force, oldest first (irqfds()). */
  private readonly irqfdBindings: IrqfdBinding[] = [];
  /** KVM_IOEVENTFD registrations in force, oldest first (ioeventfds()). */
  private readonly ioeventfdBindings: IoeventfdBinding[] = [];
  private readonly slotLimit: number;
  private readonly irqLine: IrqLineDriver;
  private nextSlot = 0;

  constructor(@inject(KVM) readonly kvm: Kvm, @inject(VM_OPTIONS) options: KvmVmOptions = {}) {
    this.type = options.type ?? 0;
    this.fd = kvm.createVmFd(this.type);
    this.irqLine = new IrqLineDriver(this.fd);
    const slots = this.checkExtension(KvmCap.NR_MEMSLOTS);
    const kernelLimit = slots > 0 ? slots : DEFAULT_SLOT_LIMIT;
    this.slotLimit = Math.min(kernelLimit, options.maxMemorySlots ?? kernelLimit);
  }

  /** Memory slots this VM may use (KVM_CAP_NR_MEMSLOTS, or the lower cap it was created with). */
  get memorySlotLimit(): number {
    return this.slotLimit;
  }

  get phase(): VmPhase {
    return this.lifecycle.phase;
  }

  /**
   * After close() the VM fd number may already belong to another file: no call may reach it.
   * A LifecycleError instead of an EBADF — or worse, an ioctl on someone else's fd.
   */
  private requireOpen(operation: string): void {
    if (this.lifecycle.phase === 'closed') throw new LifecycleError('KvmVM', 'closed', operation);
  }

  /** KVM_CHECK_EXTENSION on the VM fd (per-VM answers), falling back to the system fd. */
  checkExtension(cap: KvmCap): number {
    this.requireOpen('check an extension');
    if (cap !== KvmCap.CHECK_EXTENSION_VM && this.kvm.checkExtension(KvmCap.CHECK_EXTENSION_VM) > 0) {
      return kvmIoctl(this.fd, KvmIoctl.CHECK_EXTENSION, `KVM_CHECK_EXTENSION(${KvmCap[cap] ?? cap}) on the VM fd`, cap);
    }
    return this.kvm.checkExtension(cap);
  }

  hasCapability(cap: KvmCap): boolean {
    return this.checkExtension(cap) > 0;
  }

  /** KVM_ENABLE_CAP on the VM fd with up to four 64-bit arguments. */
  enableCapability(cap: KvmCap, args: readonly (number | bigint)[] = []): void {
    this.requireOpen('enable a capability');
    const b = new DataView(new ArrayBuffer(EnableCapLayout.size));
    b.setUint32(EnableCapLayout.cap, cap, true);
    args.forEach((a, i) => b.setBigUint64(EnableCapLayout.args + 8 * i, BigInt(a), true));
    kvmIoctl(this.fd, KvmIoctl.ENABLE_CAP, `KVM_ENABLE_CAP(${KvmCap[cap] ?? cap})`, b);
  }

  // ---- memory ---------------------------------------------------------------------------

  get regions(): readonly MemoryRegion[] {
    return this.regionList;
  }

  /**
   * Add a region of guest memory backed by fresh anonymous host memory. Checks alignment,
   * overlap and the slot limit before asking the kernel, so mistakes come back as ConfigError
   * naming the region rather than an EINVAL from KVM_SET_USER_MEMORY_REGION.
   */
  addMemoryRegion(options: MemoryRegionOptions): MemoryRegion {
    this.lifecycle.require('add a memory region', 'configure', 'drained');
    const o = {
      kvmMap: true,
      inAddrMap: true,
      confReported: true,
      readOnly: false,
      dirtyLog: false,
      ...options,
    };
    const where = `memory[${o.name}]`;
    if (!Number.isSafeInteger(o.guestPhysAddr) || o.guestPhysAddr < 0) throw new ConfigError(where, `guestPhysAddr ${o.guestPhysAddr} is not a non-negative integer`);
    if (!Number.isSafeInteger(o.size) || o.size <= 0) throw new ConfigError(where, `size ${o.size} is not a positive integer`);
    if (o.guestPhysAddr % GUEST_PAGE_SIZE !== 0) throw new ConfigError(where, `guestPhysAddr 0x${o.guestPhysAddr.toString(16)} is not aligned to the ${GUEST_PAGE_SIZE}-byte page size`);
    if (o.size % GUEST_PAGE_SIZE !== 0) throw new ConfigError(where, `size 0x${o.size.toString(16)} is not a multiple of the ${GUEST_PAGE_SIZE}-byte page size`);
    if (this.regionList.some((r) => r.name === o.name)) throw new ConfigError(where, 'a region with this name already exists');
    const range = { name: `region '${o.name}'`, base: o.guestPhysAddr, size: o.size };
    if (o.inAddrMap) {
      const other = this.addressMap.overlapping(range.base, range.size);
      if (other) throw new ConfigError(where, `${describeRange(range)} overlaps ${describeRange(other)}`);
    }
    const becomesSlot = o.kvmMap && o.inAddrMap;
    if (becomesSlot && this.nextSlot >= this.slotLimit) {
      throw new ConfigError(where, `too many memory slots: this KVM allows ${this.slotLimit} (KVM_CAP_NR_MEMSLOTS)`);
    }
    if (o.readOnly && becomesSlot && !this.hasCapability(KvmCap.READONLY_MEM)) {
      throw new ConfigError(where, 'readOnly needs KVM_CAP_READONLY_MEM, which this KVM lacks');
    }

    const c = native.constants;
    const backingFd = o.backing ? checkBacking(o.backing, o.size, where) : -1;
    const mapping = nativeCall(
      `mmap(${where}, ${o.size} bytes)`,
      () => native.mmap(o.size, c.PROT_READ | c.PROT_WRITE, c.MAP_PRIVATE | c.MAP_NORESERVE | (o.backing ? 0 : c.MAP_ANONYMOUS), backingFd, o.backing?.offset ?? 0, guestRamPlacement(o.size, !o.backing && o.hugePages !== false)),
      MMAP_HINTS,
    );
    let slot = -1;
    if (becomesSlot) {
      slot = this.nextSlot;
      try {
        this.setSlot(slot, (o.dirtyLog ? KVM_MEM_LOG_DIRTY_PAGES : 0) | (o.readOnly ? KVM_MEM_READONLY : 0), o.guestPhysAddr, o.size, mapping.address);
      } catch (e) {
        mapping.unmap();
        throw e;
      }
      this.nextSlot++;
    }
    const region: MemoryRegion = {
      name: o.name,
      guestPhysAddr: o.guestPhysAddr,
      size: o.size,
      kvmMap: o.kvmMap,
      inAddrMap: o.inAddrMap,
      confReported: o.confReported,
      readOnly: o.readOnly,
      dirtyLog: o.dirtyLog,
      slot,
      mappingId: mapping.id,
      hostAddress: mapping.address,
    };
    this.mappings.set(mapping.id, mapping);
    this.regionList.push(region);
    if (o.inAddrMap) this.addressMap.add(range, where);
    return region;
  }

  private setSlot(slot: number, flags: number, gpa: number, size: number, host: bigint): void {
    const b = new DataView(new ArrayBuffer(UserspaceMemoryRegionLayout.size));
    b.setUint32(UserspaceMemoryRegionLayout.slot, slot, true);
    b.setUint32(UserspaceMemoryRegionLayout.flags, flags, true);
    b.setBigUint64(UserspaceMemoryRegionLayout.guest_phys_addr, BigInt(gpa), true);
    b.setBigUint64(UserspaceMemoryRegionLayout.memory_size, BigInt(size), true);
    b.setBigUint64(UserspaceMemoryRegionLayout.userspace_addr, host, true);
    kvmIoctl(this.fd, KvmIoctl.SET_USER_MEMORY_REGION, `KVM_SET_USER_MEMORY_REGION(slot ${slot}, gpa 0x${gpa.toString(16)}, size 0x${size.toString(16)})`, b);
  }

  /** Host access to guest memory (any thread can build its own from `regions`). */
  memory(): GuestMemory {
    this.requireOpen('map guest memory');
    return new GuestMemory(this.regionList);
  }

  // ---- coalesced MMIO / PIO ---------------------------------------------------------------

  get coalescedZones(): readonly CoalescedZone[] {
    return this.zones;
  }

  /**
   * Writes into a coalesced zone do not exit: KVM queues them in a ring page that every vCPU
   * drains (BaseKvmCPU flushes it before handling each exit). Reads still exit.
   */
  addCoalescedZone(zone: CoalescedZone): void {
    this.lifecycle.require('add a coalesced zone', 'configure', 'drained');
    const cap = zone.pio ? KvmCap.COALESCED_PIO : KvmCap.COALESCED_MMIO;
    if (!this.hasCapability(cap)) throw new ConfigError(`coalesced[0x${zone.base.toString(16)}]`, `this KVM lacks ${KvmCap[cap]}`);
    if (zone.size <= 0 || zone.size > 0xffffffff) throw new ConfigError(`coalesced[0x${zone.base.toString(16)}]`, `size ${zone.size} must be 1..2^32-1`);
    const b = new DataView(new ArrayBuffer(CoalescedMmioZoneLayout.sizeof));
    b.setBigUint64(CoalescedMmioZoneLayout.addr, BigInt(zone.base), true);
    b.setUint32(CoalescedMmioZoneLayout.size, zone.size, true);
    b.setUint32(CoalescedMmioZoneLayout.pio, zone.pio ? 1 : 0, true);
    kvmIoctl(this.fd, KvmIoctl.REGISTER_COALESCED_MMIO, `KVM_REGISTER_COALESCED_MMIO(${zone.pio ? 'pio' : 'mmio'} 0x${zone.base.toString(16)}+0x${zone.size.toString(16)})`, b);
    this.zones.push({ ...zone });
  }

  /** Page offset of the coalesced ring inside a vCPU mapping (0 = coalescing unsupported). */
  coalescedRingPage(): number {
    return this.checkExtension(KvmCap.COALESCED_MMIO);
  }

  // ---- interrupts ------------------------------------------------------------------------

  /** KVM_IRQ_LINE: drive interrupt line `irq` (GSI on x86; encoded type/vcpu/id on arm64). */
  setIrqLine(irq: number, level: boolean): void {
    this.requireOpen('set an interrupt line');
    this.irqLine.set(irq, level);
  }

  /** Route an eventfd to interrupt `gsi`: a write to the eventfd injects it without an exit. */
  addIrqfd(gsi: number, eventFd?: number): number {
    this.requireOpen('add an irqfd');
    this.requireIrqfdsHere('add an irqfd');
    const fd = eventFd ?? this.ownEventfd();
    try {
      this.irqfdIoctl(fd, gsi, 0);
    } catch (e) {
      if (eventFd === undefined) this.releaseOwnedFd(fd);
      throw e;
    }
    this.irqfdBindings.push({ gsi, fd });
    return fd;
  }

  removeIrqfd(gsi: number, eventFd: number): void {
    this.requireOpen('remove an irqfd');
    this.requireIrqfdsHere('remove an irqfd');
    this.irqfdIoctl(eventFd, gsi, KVM_IRQFD_FLAG_DEASSIGN);
    const i = this.irqfdBindings.findIndex((b) => b.gsi === gsi && b.fd === eventFd);
    if (i >= 0) this.irqfdBindings.splice(i, 1);
  }

  irqfds(): readonly IrqfdBinding[] {
    return [...this.irqfdBindings];
  }

  /** While an IrqfdDiversion holds the irqfds (a switched-out GIC), the bindings may not change. */
  private requireIrqfdsHere(operation: string): void {
    const by = irqfdsDivertedBy(this);
    if (by !== undefined) throw new LifecycleError('KvmVM irqfds', `taken from the kernel by ${by}`, `${operation} (switch the vCPUs back in first)`);
  }

  private irqfdIoctl(fd: number, gsi: number, flags: number): void {
    irqfdIoctl(this.fd, fd, gsi, flags);
  }

  /** A guest write matching `options` signals an eventfd inside the kernel, without an exit. Returns the eventfd. */
  addIoeventfd(options: IoeventfdOptions): number {
    this.requireOpen('add an ioeventfd');
    const fd = options.fd ?? this.ownEventfd();
    const binding: IoeventfdBinding = { address: options.address, length: options.length, pio: options.pio === true, ...(options.datamatch !== undefined ? { datamatch: options.datamatch } : {}), fd };
    try {
      this.ioeventfdIoctl(binding, 0);
    } catch (e) {
      if (options.fd === undefined) this.releaseOwnedFd(fd);
      throw e;
    }
    this.ioeventfdBindings.push(binding);
    return fd;
  }

  removeIoeventfd(binding: IoeventfdBinding): void {
    this.requireOpen('remove an ioeventfd');
    this.ioeventfdIoctl(binding, KVM_IOEVENTFD_FLAG_DEASSIGN);
    const i = this.ioeventfdBindings.findIndex((b) => b.fd === binding.fd && b.address === binding.address && b.pio === binding.pio && b.length === binding.length && b.datamatch === binding.datamatch);
    if (i >= 0) this.ioeventfdBindings.splice(i, 1);
  }

  ioeventfds(): readonly IoeventfdBinding[] {
    return [...this.ioeventfdBindings];
  }

  private ioeventfdIoctl(binding: IoeventfdBinding, flags: number): void {
    const b = new DataView(new ArrayBuffer(IoeventfdLayout.size));
    b.setBigUint64(IoeventfdLayout.datamatch, binding.datamatch ?? 0n, true);
    b.setBigUint64(IoeventfdLayout.addr, BigInt(binding.address), true);
    b.setUint32(IoeventfdLayout.len, binding.length, true);
    b.setInt32(IoeventfdLayout.fd, binding.fd, true);
    flags |= (binding.pio ? KVM_IOEVENTFD_FLAG_PIO : 0) | (binding.datamatch !== undefined ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0);
    b.setUint32(IoeventfdLayout.flags, flags, true);
    kvmIoctl(this.fd, KvmIoctl.IOEVENTFD, `KVM_IOEVENTFD(${binding.pio ? 'pio' : 'mmio'} 0x${binding.address.toString(16)}, len ${binding.length}${flags & KVM_IOEVENTFD_FLAG_DEASSIGN ? ', deassign' : ''})`, b);
  }

  private ownEventfd(): number {
    const fd = nativeCall('eventfd', () => native.eventfd(0, 0));
    this.ownedFds.push(fd);
    return fd;
  }

  /** Close an eventfd this VM created for a registration that then failed. */
  private releaseOwnedFd(fd: number): void {
    const i = this.ownedFds.indexOf(fd);
    if (i >= 0) this.ownedFds.splice(i, 1);
    native.close(fd);
  }

  // ---- in-kernel devices and vCPUs -------------------------------------------------------

  /** KVM_CREATE_DEVICE (e.g. a vGIC). The VM closes it. */
  createDevice(type: number): KvmDevice {
    this.requireOpen('create a device');
    const b = new DataView(new ArrayBuffer(CreateDeviceLayout.size));
    b.setUint32(CreateDeviceLayout.type, type, true);
    kvmIoctl(this.fd, KvmIoctl.CREATE_DEVICE, `KVM_CREATE_DEVICE(type ${type})`, b);
    const dev = new KvmDevice(b.getUint32(CreateDeviceLayout.fd, true), type);
    this.devices.push(dev);
    return dev;
  }

  /** Does this KVM offer device `type`? (KVM_CREATE_DEVICE_TEST: probes without creating.) */
  canCreateDevice(type: number): boolean {
    this.requireOpen('probe a device type');
    const b = new DataView(new ArrayBuffer(CreateDeviceLayout.size));
    b.setUint32(CreateDeviceLayout.type, type, true);
    b.setUint32(CreateDeviceLayout.flags, 1, true);
    return native.ioctlErrno(this.fd, KvmIoctl.CREATE_DEVICE, b) === 0;
  }

  get vcpuIds(): number[] {
    return [...this.vcpus.keys()];
  }

  vcpu(id: number): VcpuFd | undefined {
    return this.vcpus.get(id);
  }

  /** KVM_CREATE_VCPU plus the kvm_run mapping. Ids must be unique and below KVM_CAP_MAX_VCPU_ID. */
  createVcpu(id: number): VcpuFd {
    this.lifecycle.require('create a vCPU', 'configure');
    if (!Number.isInteger(id) || id < 0) throw new ConfigError(`vcpu[${id}]`, 'vCPU id must be a non-negative integer');
    if (this.vcpus.has(id)) throw new ConfigError(`vcpu[${id}]`, 'a vCPU with this id already exists');
    const maxId = this.checkExtension(KvmCap.MAX_VCPU_ID) || this.checkExtension(KvmCap.MAX_VCPUS);
    if (maxId > 0 && id >= maxId) throw new ConfigError(`vcpu[${id}]`, `id must be below ${maxId} (KVM_CAP_MAX_VCPU_ID)`);
    const fd = kvmIoctl(this.fd, KvmIoctl.CREATE_VCPU, `KVM_CREATE_VCPU(${id})`, id);
    let vcpu: VcpuFd;
    try {
      vcpu = VcpuFd.map(id, fd, this.kvm.vcpuMmapSize(), this.coalescedRingPage());
    } catch (e) {
      native.close(fd);
      throw e;
    }
    this.vcpus.set(id, vcpu);
    return vcpu;
  }

  /**
   * Release everything. Memory slots are deleted (size 0) before their mappings are unmapped,
   * and vCPU fds are closed before the VM fd, so no guest can touch freed memory.
   */
  close(): void {
    if (this.lifecycle.phase === 'closed') return;
    this.lifecycle.moveTo('closed');
    for (const v of this.vcpus.values()) v.close();
    this.vcpus.clear();
    for (const d of this.devices) d.close();
    this.devices.length = 0;
    for (const r of this.regionList) {
      if (r.slot >= 0) {
        try {
          this.setSlot(r.slot, 0, r.guestPhysAddr, 0, 0n);
        } catch {
          // The VM fd is closed right after; the kernel drops the slot with it.
        }
      }
    }
    native.close(this.fd);
    for (const m of this.mappings.values()) m.unmap();
    this.mappings.clear();
    for (const fd of this.ownedFds) native.close(fd);
    this.ownedFds.length = 0;
    this.irqfdBindings.length = 0;
    this.ioeventfdBindings.length = 0;
  }
}

