/**
 * The VM's virtual counter across pauses. gem5 (gem5-kvm.md §9): "When the simulator returns from
 * KVM for simulating other models, the in-kernel timer doesn't stop. We have to save the virtual
 * time and restore before going into KVM next time. Moreover, setting virtual time affects all
 * vcpus [...]. We maintain a global virtual time here, restore it before the first vcpu going
 * into KVM, and save it after the last vcpu back from KVM." gem5 kept it in a process-wide static
 * (§11.19); here it is per VM, in shared memory every vCPU thread of the VM binds, and the count
 * travels through the uapi's TIMER_CNT id (never the encoding-derived one, see Arm64TimerRegId).
 */
import { LifecycleError, defineSharedLayout } from '@kvmts/core';
import { Arm64TimerRegId } from '../abi';
import type { OneRegTransport } from './register-sync';

const LAYOUT = defineSharedLayout({
  name: 'arm64-virtual-counter',
  version: 1,
  fields: { lock: 'lock', inside: 'u32', savedLow: 'u32', savedHigh: 'u32', saved: 'u8' },
});

/** The shared state of one VM's counter (prepareBoot creates one and hands it to every vCPU). */
export function createVirtualCounterState(): SharedArrayBuffer {
  return new SharedArrayBuffer(LAYOUT.byteLength);
}

/**
 * Set the count the first vCPU to enter will restore (a checkpoint's restore, on the main thread
 * before any vCPU runs): the guest's virtual time continues from `count`, however long the
 * machine was away.
 */
export function presetVirtualCount(shared: SharedArrayBuffer, count: bigint): void {
  const s = LAYOUT.bind(shared);
  s.lock.acquire();
  try {
    if (s.inside !== 0) throw new LifecycleError('virtual counter', 'running', 'set the saved count while a vCPU runs');
    s.savedLow = Number(count & 0xffff_ffffn);
    s.savedHigh = Number((count >> 32n) & 0xffff_ffffn);
    s.saved = 1;
  } finally {
    s.lock.release();
  }
}

/** The count saved when the VM last paused (undefined before the first pause), from the shared state alone. */
export function savedVirtualCount(shared: SharedArrayBuffer): bigint | undefined {
  const s = LAYOUT.bind(shared);
  s.lock.acquire();
  try {
    return s.saved !== 0 ? (BigInt(s.savedHigh) << 32n) | BigInt(s.savedLow) : undefined;
  } finally {
    s.lock.release();
  }
}

export class VirtualCounter {
  private readonly s: ReturnType<typeof LAYOUT.bind>;

  constructor(
    private readonly shared: SharedArrayBuffer,
    private readonly io: OneRegTransport,
  ) {
    this.s = LAYOUT.bind(shared);
  }

  /** Before this vCPU's run: the first of the VM's vCPUs to enter restores the count saved at the last pause. */
  enter(): void {
    const s = this.s;
    s.lock.acquire();
    try {
      // Under the lock: no other vCPU may enter KVM before the offset is restored.
      if (s.inside === 0 && s.saved !== 0) this.io.set(Arm64TimerRegId.TIMER_CNT, (BigInt(s.savedHigh) << 32n) | BigInt(s.savedLow));
      s.inside = s.inside + 1;
    } finally {
      s.lock.release();
    }
  }

  /** After this vCPU's run: the last one out saves the count, so time the VM spends paused is invisible to the guest. */
  leave(): void {
    const s = this.s;
    s.lock.acquire();
    try {
      s.inside = s.inside - 1;
      if (s.inside === 0) {
        const count = this.io.get(Arm64TimerRegId.TIMER_CNT);
        s.savedLow = Number(count & 0xffff_ffffn);
        s.savedHigh = Number(count >> 32n);
        s.saved = 1;
      }
    } finally {
      s.lock.release();
    }
  }

  /** The count saved when the VM last paused (undefined before the first pause). */
  savedCount(): bigint | undefined {
    return savedVirtualCount(this.shared);
  }
}

/** Each VM's counter state, for VM-level code on the main thread (a checkpoint's arm64.virtual-counter section). */
const byVm = new WeakMap<object, SharedArrayBuffer>();

/** prepareBoot records the state it hands the vCPUs of `vm`. */
export function bindVmVirtualCounter(vm: object, shared: SharedArrayBuffer): void {
  byVm.set(vm, shared);
}

/** The counter state of `vm` (undefined for a VM no arm64 prepareBoot set up). */
export function vmVirtualCounterState(vm: object): SharedArrayBuffer | undefined {
  return byVm.get(vm);
}
