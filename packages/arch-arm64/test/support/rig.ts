/**
 * Test harness for the nested arm64 tier: one VM with arm64 vCPUs driven synchronously on the
 * test's own thread, composed with the same core functions machines and vCPU workers use
 * (prepareVm, buildVcpu), and the tiny guests the nested runner assembles.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ConfigError,
  buildVcpu,
  createMachineContainer,
  loadPlugins,
  prepareVm,
  vcpuBuildInfos,
  type AccessSize,
  type Device,
  type HighWord,
  type Kvm,
  type KvmVM,
} from '@kvmts/core';
import { ARCH_ARM64_MODULE, ARM64_LAYOUT, ArmV8KvmCPU, arm64ArchPlugin, type Arm64Boot, type Arm64MachineOptions } from '@kvmts/arch-arm64';

/** A guest program of scripts/nested/guest-asm/arm64/, assembled by the nested runner. */
export function guestProgram(name: string): Uint8Array {
  const dir = process.env.KVMTS_GUEST_ASM;
  if (!dir) throw new ConfigError('KVMTS_GUEST_ASM', 'unset: this suite runs inside the nested arm64 host (npm run test:nested:arm64)');
  return fs.readFileSync(path.join(dir, `${name}.bin`));
}

/** Where the tests put their recording devices: unused MMIO space between the PL011 and RAM. */
export const TEST_MMIO = 0x0a00_0000;

export interface Rig {
  kvm: Kvm;
  vm: KvmVM;
  cpus: ArmV8KvmCPU[];
  close(): void;
}

export interface RigOptions {
  cpus?: number;
  memoryBytes?: number;
  archOptions?: Arm64MachineOptions;
}

export function makeRig(boot: Arm64Boot | undefined, options: RigOptions = {}): Rig {
  const container = createMachineContainer();
  loadPlugins(container, [ARCH_ARM64_MODULE]);
  const prepared = prepareVm(
    {
      arch: 'arm64',
      memory: [{ name: 'ram', guestPhysAddr: ARM64_LAYOUT.ramBase, size: options.memoryBytes ?? 4 << 20 }],
      cpus: options.cpus,
      boot,
      archOptions: options.archOptions,
    },
    arm64ArchPlugin,
    container,
  );
  try {
    const cpus = vcpuBuildInfos(prepared).map((info) => buildVcpu<unknown, ArmV8KvmCPU>(container, arm64ArchPlugin, info, { unclaimed: 'error' }).cpu);
    return {
      kvm: prepared.kvm,
      vm: prepared.vm,
      cpus,
      close: () => {
        for (const c of cpus) c.close();
        prepared.close();
      },
    };
  } catch (e) {
    prepared.close();
    throw e;
  }
}

export interface Access {
  readonly op: 'read' | 'write';
  readonly offset: number;
  readonly size: number;
  /** Written value, or the value the read answered with (8-byte accesses as one bigint). */
  readonly value: bigint;
}

/** A device that records every access and answers reads with `answer(offset, size)`. */
export class RecordingDevice implements Device {
  readonly accesses: Access[] = [];
  constructor(
    readonly name = 'recorder',
    private readonly answer: (offset: number, size: AccessSize) => bigint = () => 0n,
  ) {}
  read(offset: number, size: AccessSize, out: HighWord): number {
    const value = this.answer(offset, size);
    this.accesses.push({ op: 'read', offset, size, value });
    out.high = Number(value >> 32n);
    return Number(value & 0xffff_ffffn);
  }
  write(offset: number, size: AccessSize, value: number, valueHigh: number): void {
    this.accesses.push({ op: 'write', offset, size, value: (BigInt(valueHigh >>> 0) << 32n) | BigInt(value >>> 0) });
  }
}
