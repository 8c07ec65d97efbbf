/**
 * Writes a kernel boot into guest memory: the image (Linux Image or raw binary), the initrd and
 * the machine's FDT, and returns the boot vCPU's registers (booting.rst: EL1h, DAIF masked,
 * x0 = the DTB's address, x1–x3 = 0).
 */
import { ConfigError, bootBytesLength, isBootFile, placeBootBytes, type BootBytes, type DeviceSpec, type GuestMemory, type KvmVM } from '@kvmts/core';
import { ARM64_PSTATE_EL1H_MASKED, type Arm64CoreRegName } from '../abi';
import { checkedPl011Options, pl011Plugin, type Pl011Options } from '../devices/pl011/plugin';
import { vgicV3Frames } from '../gic/vgic-v3';
import { userspaceGicV2Frames } from './userspace-gic';
import type { CheckedArm64Options } from '../machine-options';
import { arm64MachineFdt, type Arm64FdtSpec } from './machine-fdt';
import type { FdtNode } from './fdt';
import { checkKernelBootLayout, planKernelBoot, type Arm64KernelBoot } from './kernel';

/** What the FDT describes besides the boot payload. */
export interface Arm64MachineDescription {
  readonly vm: KvmVM;
  readonly mpidrs: readonly bigint[];
  readonly options: CheckedArm64Options;
  readonly devices: readonly DeviceSpec[];
  /** The in-kernel GIC's node from the controller that created it; absent with gic: 'kernel', the minimal vGICv3's. */
  readonly gicNode?: FdtNode;
}

function fdtSpec(m: Arm64MachineDescription, boot: Arm64KernelBoot, initrd?: { start: number; end: number }): Arm64FdtSpec {
  const gicV2 = userspaceGicV2Frames(m.devices, m.options);
  const uarts = m.devices.filter((d) => d.type === pl011Plugin.type).map((d) => checkedPl011Options(d.options as Pl011Options));
  return {
    memory: m.vm.regions.filter((r) => r.confReported).map((r) => ({ base: r.guestPhysAddr, size: r.size })),
    mpidrs: m.mpidrs,
    ...(m.options.gic === 'kernel' ? (m.gicNode ? { gicNode: m.gicNode } : { gic: vgicV3Frames(m.mpidrs.length) }) : {}),
    ...(gicV2 ? { gicV2 } : {}),
    timer: m.options.timer === 'kernel',
    uarts: uarts.map((u) => ({ base: u.base, ...(u.spi !== undefined ? { spi: u.spi } : {}) })),
    ...(boot.cmdline !== undefined ? { bootargs: boot.cmdline } : {}),
    ...(initrd ? { initrd } : {}),
  };
}

const isBytes = (b: unknown): b is BootBytes => b instanceof Uint8Array || isBootFile(b);

/** Load `boot` and return the boot vCPU's starting registers. */
export function loadKernelBoot(boot: Arm64KernelBoot, memory: GuestMemory, machine: Arm64MachineDescription): Partial<Record<Arm64CoreRegName, bigint>> {
  // The type says 'kernel'; a config built at run time (a JSON file, the CLI) may say otherwise.
  if (boot.kind !== 'kernel') throw new ConfigError('boot.kind', `unsupported arm64 boot kind '${String(boot.kind)}' (supported: 'kernel')`);
  if (!isBytes(boot.image)) throw new ConfigError('boot.image', 'must be a Uint8Array or a BootFile (a Linux arm64 Image or a raw binary)');
  if (boot.initrd !== undefined && !isBytes(boot.initrd)) throw new ConfigError('boot.initrd', 'must be a Uint8Array or a BootFile');
  const ram = machine.vm.regions.find((r) => r.confReported && r.kvmMap);
  if (!ram) throw new ConfigError('memory', 'an arm64 boot needs a RAM region');
  const initrdBytes = boot.initrd === undefined ? 0 : bootBytesLength(boot.initrd);
  // The FDT's size does not depend on the initrd's address (64-bit cells either way): size it with a placeholder.
  const fdtBytes = arm64MachineFdt(fdtSpec(machine, boot, initrdBytes ? { start: 0, end: 0 } : undefined)).length;
  const plan = planKernelBoot(boot.image, initrdBytes, fdtBytes, { base: ram.guestPhysAddr, size: ram.size });
  const fdt = arm64MachineFdt(fdtSpec(machine, boot, plan.initrd));
  checkKernelBootLayout(plan, fdt.length, { base: ram.guestPhysAddr, size: ram.size });
  // Straight into guest RAM where the plan puts them (a BootFile is read there, not copied).
  placeBootBytes(boot.image, memory.bytes(plan.imageAddress, bootBytesLength(boot.image)));
  if (plan.initrd && boot.initrd) placeBootBytes(boot.initrd, memory.bytes(plan.initrd.start, initrdBytes));
  memory.write(plan.fdtAddress, fdt);
  return { pc: BigInt(plan.imageAddress), pstate: ARM64_PSTATE_EL1H_MASKED, x0: BigInt(plan.fdtAddress), x1: 0n, x2: 0n, x3: 0n };
}
