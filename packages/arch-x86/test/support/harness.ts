/**
 * Test harness: one VM with one or more x86 vCPUs driven synchronously on the test's own thread
 * (the machine layer runs them in workers; these tests exercise the CPU and buses directly).
 */
import { Kvm, buildCpu, prepareVm, vcpuBuildInfos, type KvmVM, type CoalescedZone, type Device, type AccessSize, type HighWord, type MemoryRegionOptions } from '@kvmts/core';
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
  const prepared = prepareVm(
    { arch: 'x86_64', memory: options.memory ?? [{ name: 'ram', guestPhysAddr: 0, size: 4 << 20 }], cpus: options.cpus, coalesced: options.coalesced, boot },
    x86ArchPlugin,
  );
  try {
    const cpus = vcpuBuildInfos(prepared).map((info) => buildCpu(x86ArchPlugin, info, { unclaimed: options.unclaimed ?? 'error' }) as X86KvmCPU);
    return { kvm: prepared.kvm, vm: prepared.vm, cpus, close: () => prepared.close() };
  } catch (e) {
    prepared.close();
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
