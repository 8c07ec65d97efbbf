/**
 * Which guest pages changed since the machine's last checkpoint, for incremental checkpoints.
 *
 * KVM logs guest writes per memory slot once the slot has KVM_MEM_LOG_DIRTY_PAGES; this module
 * turns that flag on for every writable RAM slot (a flags-only KVM_SET_USER_MEMORY_REGION, so
 * it can start on a machine that is already running guests) and reads the log with
 * KVM_GET_DIRTY_LOG, which returns the bitmap *and* resets it, write-protecting the pages again.
 * The machine is stopped while a checkpoint is written, so that fetch-and-reset is exactly "the
 * pages written since the previous checkpoint" — KVM_CLEAR_DIRTY_LOG (MANUAL_DIRTY_LOG_PROTECT2)
 * would only help by splitting fetch and reset while vCPUs run, and the dirty ring
 * (KVM_CAP_DIRTY_LOG_RING) by avoiding bitmap scans of huge guests; neither is needed here.
 *
 * Logging costs the guest a write-protect fault on its first write to each page after every
 * checkpoint, so it only starts when a checkpoint asks for it (`track`).
 *
 * What KVM does not log: writes the host makes through its own mapping of guest RAM (device
 * emulation writing guest memory, `machine.memory.write`). Regions that are not writable KVM
 * slots are therefore always saved whole, and host writes to RAM between a tracked checkpoint
 * and its child must be reported with `markDirty`.
 */
import * as native from '@kvmts/native';
import { KvmIoctl } from '../abi/ioctls';
import { DirtyLogLayout, KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY, UserspaceMemoryRegionLayout } from '../abi/kvm-run';
import { kvmIoctl, nativeCall } from '../kvm/ioctl';
import type { KvmVM } from '../vm/kvm-vm';
import type { MemoryRegion } from '../vm/memory-region';
import { IMAGE_PAGE_SIZE } from './memory-image';
import { countSetBits } from './image-plan';


/** Bytes of a KVM dirty bitmap for `pages` pages: KVM rounds up to whole 64-bit words. */
export function dirtyBitmapBytes(pages: number): number {
  return Math.ceil(pages / 64) * 8;
}

/** Number of bits set among the first `pages` bits. */
export function countPages(bitmap: Uint8Array, pages: number): number {
  return countSetBits(bitmap, pages);
}

/** Whether KVM logs the guest's writes to this region (a writable memory slot). */
export function isLoggable(r: MemoryRegion): boolean {
  return r.slot >= 0 && !r.readOnly;
}

/** One logged slot: its bitmap buffer lives in an anonymous mapping, whose address KVM writes to. */
interface LoggedSlot {
  readonly region: MemoryRegion;
  readonly bitmap: native.Mapping;
  readonly bytes: number;
}

export class DirtyPageTracker {
  private readonly slots = new Map<string, LoggedSlot>();
  /** Pages the host wrote (markDirty), per region name, since the last collect. */
  private readonly hostDirty = new Map<string, Set<number>>();

  constructor(private readonly vm: KvmVM) {}

  get active(): boolean {
    return this.slots.size > 0;
  }

  /** Whether `region`'s writes are logged (collect gives its changed pages; otherwise it is saved whole). */
  logs(region: MemoryRegion): boolean {
    return this.slots.has(region.name);
  }

  /** Turn logging on for every writable RAM slot (idempotent). The log starts empty. */
  start(): void {
    if (this.active) return;
    try {
      for (const r of this.vm.regions) {
        if (!isLoggable(r)) continue;
        const pages = r.size / IMAGE_PAGE_SIZE;
        const bytes = dirtyBitmapBytes(pages);
        const c = native.constants;
        const bitmap = nativeCall(`mmap(dirty bitmap of ${r.name})`, () => native.mmap(Math.ceil(bytes / IMAGE_PAGE_SIZE) * IMAGE_PAGE_SIZE, c.PROT_READ | c.PROT_WRITE, c.MAP_PRIVATE | c.MAP_ANONYMOUS));
        this.slots.set(r.name, { region: r, bitmap, bytes });
        // A slot configured with dirtyLog has logged since it was created: reset it to now.
        if (r.dirtyLog) this.collect(r);
        else this.setLogging(r, true);
      }
    } catch (e) {
      this.stop();
      throw e;
    }
  }

  /** Turn logging off again where start() turned it on, and free the bitmaps. */
  stop(): void {
    for (const { region, bitmap } of this.slots.values()) {
      if (!region.dirtyLog && this.vm.phase !== 'closed') {
        try {
          this.setLogging(region, false);
        } catch {
          // The VM may be closing; the slot goes with it.
        }
      }
      bitmap.unmap();
    }
    this.slots.clear();
    this.hostDirty.clear();
  }

  /** Record a host write to guest RAM (KVM does not log those). */
  markDirty(region: string, offset: number, length: number): void {
    let set = this.hostDirty.get(region);
    if (!set) this.hostDirty.set(region, (set = new Set()));
    for (let p = Math.floor(offset / IMAGE_PAGE_SIZE); p * IMAGE_PAGE_SIZE < offset + length; p++) set.add(p);
  }

  /**
   * The pages of `region` written since the previous collect (or start), as a copy of the
   * bitmap; null when the region is not logged (save it whole). Resets the log: call it once per
   * region per checkpoint, while no vCPU runs.
   */
  collect(region: MemoryRegion): Uint8Array | null {
    const slot = this.slots.get(region.name);
    if (!slot) return null;
    const b = new DataView(new ArrayBuffer(DirtyLogLayout.size));
    b.setUint32(DirtyLogLayout.slot, region.slot, true);
    b.setBigUint64(DirtyLogLayout.dirty_bitmap, slot.bitmap.address, true);
    kvmIoctl(this.vm.fd, KvmIoctl.GET_DIRTY_LOG, `KVM_GET_DIRTY_LOG(slot ${region.slot}, region '${region.name}')`, b);
    const out = new Uint8Array(slot.bitmap.views()[0], 0, slot.bytes).slice();
    for (const p of this.hostDirty.get(region.name) ?? []) out[p >>> 3] |= 1 << (p & 7);
    this.hostDirty.delete(region.name);
    return out;
  }

  private setLogging(r: MemoryRegion, on: boolean): void {
    const flags = (on ? KVM_MEM_LOG_DIRTY_PAGES : 0) | (r.readOnly ? KVM_MEM_READONLY : 0);
    const b = new DataView(new ArrayBuffer(UserspaceMemoryRegionLayout.size));
    b.setUint32(UserspaceMemoryRegionLayout.slot, r.slot, true);
    b.setUint32(UserspaceMemoryRegionLayout.flags, flags, true);
    b.setBigUint64(UserspaceMemoryRegionLayout.guest_phys_addr, BigInt(r.guestPhysAddr), true);
    b.setBigUint64(UserspaceMemoryRegionLayout.memory_size, BigInt(r.size), true);
    b.setBigUint64(UserspaceMemoryRegionLayout.userspace_addr, r.hostAddress, true);
    kvmIoctl(this.vm.fd, KvmIoctl.SET_USER_MEMORY_REGION, `KVM_SET_USER_MEMORY_REGION(slot ${r.slot}, dirty logging ${on ? 'on' : 'off'})`, b);
  }
}
