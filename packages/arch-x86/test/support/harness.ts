/**
 * Test harness: one VM with one or more x86 vCPUs driven synchronously on the test's own thread
 * (the machine layer runs them in workers; these tests exercise the CPU and buses directly).
 * It composes the VM, the CPUs and the devices with the same core functions the machine and
 * its vCPU workers use (prepareVm, buildVcpu, prepareDevices, attachVcpuDevices), so it cannot
 * drift from them.
 */
import {
  attachVcpuDevices,
  buildVcpu,
  createMachineContainer,
  loadPlugins,
  prepareDevices,
  prepareVm,
  vcpuBuildInfos,
  type AccessSize,
  type CoalescedZone,
  type Device,
  type DeviceSpec,
  type HighWord,
  type Kvm,
  type KvmVM,
  type MemoryRegionOptions,
} from '@kvmts/core';
import { ARCH_X86_MODULE, X86KvmCPU, x86ArchPlugin, type X86FlatBoot, type X86MachineOptions } from '@kvmts/arch-x86';

export interface Rig {
  kvm: Kvm;
  vm: KvmVM;
  cpus: X86KvmCPU[];
  /** Console bytes the rig's devices wrote, per vCPU thread (all on this thread here). */
  console: number[];
  close(): void;
}

export interface RigOptions {
  cpus?: number;
  memory?: MemoryRegionOptions[];
  coalesced?: CoalescedZone[];
  unclaimed?: 'ignore' | 'error';
  /** Devices, composed as a machine composes them (e.g. [exitDevice()]). */
  devices?: DeviceSpec[];
  archOptions?: X86MachineOptions;
}

export function makeRig(boot: X86FlatBoot, options: RigOptions = {}): Rig {
  const container = createMachineContainer();
  loadPlugins(container, [ARCH_X86_MODULE]);
  const devices = prepareDevices(container, options.devices ?? [], x86ArchPlugin.addressSpaces);
  const prepared = prepareVm(
    { arch: 'x86_64', memory: options.memory ?? [{ name: 'ram', guestPhysAddr: 0, size: 4 << 20 }], cpus: options.cpus, coalesced: options.coalesced, boot, archOptions: options.archOptions },
    x86ArchPlugin,
    container,
  );
  try {
    const consoleBytes: number[] = [];
    const cpus = vcpuBuildInfos(prepared).map((info) => {
      const { container: vcpuContainer, cpu } = buildVcpu<unknown, X86KvmCPU>(container, x86ArchPlugin, info, { unclaimed: options.unclaimed ?? 'error' });
      attachVcpuDevices(vcpuContainer, cpu, devices, { consoleWrite: (b) => consoleBytes.push(b), setIrqLine: (line, level) => prepared.vm.setIrqLine(line, level) });
      return cpu;
    });
    return { kvm: prepared.kvm, vm: prepared.vm, cpus, console: consoleBytes, close: () => prepared.close() };
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
