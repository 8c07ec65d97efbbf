/**
 * Test harness: one VM with one or more x86 vCPUs driven synchronously on the test's own thread
 * (the machine layer runs them in workers; these tests exercise the CPU and buses directly).
 */
import { Kvm, KvmVM, attachMmioServedRegions, type CoalescedZone, type Device, type AccessSize, type HighWord, type MemoryRegionOptions } from '@kvmts/core';
import { X86KvmCPU, x86ArchPlugin, type X86FlatBoot } from '@kvmts/arch-x86';

/** `describe` when /dev/kvm can be opened, otherwise a visible skip. */
export const describeKvm: jest.Describe = Kvm.isAvailable() ? describe : describe.skip;

export interface Rig {
  kvm: Kvm;
  vm: KvmVM;
  cpus: X86KvmCPU[];
  close(): void;
}

export function makeRig(boot: X86FlatBoot, options: { cpus?: number; memory?: MemoryRegionOptions[]; coalesced?: CoalescedZone[]; unclaimed?: 'ignore' | 'error' } = {}): Rig {
  const kvm = Kvm.open();
  const vm = new KvmVM(kvm);
  try {
    const cpus = options.cpus ?? 1;
    x86ArchPlugin.configureVm(vm, { arch: 'x86_64', memory: 0 });
    for (const r of options.memory ?? [{ name: 'ram', guestPhysAddr: 0, size: 4 << 20 }]) vm.addMemoryRegion(r);
    for (const z of options.coalesced ?? []) vm.addCoalescedZone(z);
    const handles = Array.from({ length: cpus }, (_, id) => vm.createVcpu(id));
    vm.lifecycle.moveTo('ready');
    const states = x86ArchPlugin.prepareBoot(vm, vm.memory(), { arch: 'x86_64', memory: 0, cpus, boot });
    const list = handles.map((h) => {
      const cpu = new X86KvmCPU(h.describe(), { unclaimed: options.unclaimed ?? 'error' });
      cpu.applyInitialState(states[h.id]);
      attachMmioServedRegions(cpu.mmio, vm.regions);
      return cpu;
    });
    return {
      kvm,
      vm,
      cpus: list,
      close() {
        vm.close();
        kvm.close();
      },
    };
  } catch (e) {
    vm.close();
    kvm.close();
    throw e;
  }
}

/** A device that records every access and answers reads from a queue (or a constant). */
export class RecordingDevice implements Device {
  readonly writes: { offset: number; size: number; value: number; high: number }[] = [];
  readonly reads: { offset: number; size: number }[] = [];
  constructor(readonly name = 'recorder', private readonly answer: (offset: number, size: AccessSize) => [number, number] = () => [0, 0]) {}
  read(offset: number, size: AccessSize, out: HighWord): number {
    this.reads.push({ offset, size });
    const [lo, hi] = this.answer(offset, size);
    out.high = hi;
    return lo;
  }
  write(offset: number, size: AccessSize, value: number, valueHigh: number): void {
    this.writes.push({ offset, size, value, high: valueHigh });
  }
}

/** Stands in for the exit device in single-thread rigs: a write powers the CPU off with that status. */
export class PowerOffPort implements Device {
  readonly name = 'power-off';
  constructor(private readonly cpu: { requestPowerOff(status: number): void }) {}
  read(): number {
    return 0;
  }
  write(_offset: number, _size: AccessSize, value: number): void {
    this.cpu.requestPowerOff(value);
  }
}
