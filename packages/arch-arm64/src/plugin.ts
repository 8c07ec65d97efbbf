import type { DependencyContainer } from 'tsyringe';
import { ARCH_PLUGIN, DEVICE_PLUGIN, KvmCap, type ArchPlugin, type LinuxBootProfile, type LinuxBootRequest, type LinuxBootFilesRequest, type GuestMemory, type Kvm, type KvmVM, type MachineConfig, type MemoryRegionOptions } from '@kvmts/core';
import { KVM_VM_TYPE_ARM_IPA_SIZE_MASK } from './abi';
import { ArmV8KvmCPU, type Arm64InitialState } from './cpu';
import { pl011, pl011Plugin } from './devices';
import { linuxCmdline } from './boot/cmdline';
import { ARM64_INTERRUPT_CONTROLLER, minimalVgicV3Controller } from './gic/interrupt-controller';
import { ARM64_LAYOUT } from './layout';
import { arm64MachineOptions, type Arm64Boot } from './machine-options';
import { checkTimerInterruptPath } from './gic/device-irq-levels';
import { ARCH_ARM64_MODULE } from './module-name';
import { ArmV8ThreadContext } from './state/thread-context';
import { arm64CheckpointSupport } from './checkpoint/support';
import { arm64VmComponents } from './checkpoint/vm-state';
import { prepareArm64Boot } from './prepare-boot';

/**
 * The arm64 ArchPlugin. Set-up order, written down here once (arm64.md §3, gic.md §1):
 *   vmType        archOptions checked; the VM gets the host's largest IPA size
 *   configureVm   KVM_CAP_ARM_NISV_TO_USER, so an undecodable MMIO access is an exit, not ENOSYS
 *   (core creates the vCPUs)
 *   prepareBoot   KVM_ARM_VCPU_INIT on every vCPU (preferred target, PSCI 0.2, secondaries
 *                 powered off) → their MPIDRs → the in-kernel GIC (after all vCPUs: CTRL_INIT
 *                 sizes the redistributors; from the container's ARM64_INTERRUPT_CONTROLLER,
 *                 else the minimal vGICv3) → the boot payload and its FDT (./prepare-boot.ts)
 * prepareBoot is the first hook that runs after the vCPUs exist, which is why vCPU and vGIC
 * initialisation live there rather than in configureVm.
 */
export const arm64ArchPlugin: ArchPlugin<Arm64Boot, Arm64InitialState, ArmV8ThreadContext> = {
  arch: 'arm64',
  module: ARCH_ARM64_MODULE,
  addressSpaces: [],
  cpu: { useClass: ArmV8KvmCPU },
  // boot/load.ts plans from each file's header and length and never reads back what it places;
  // the CPU reads no guest RAM before it runs: the kernel can be read while the vCPUs build.
  deferBootFileReads: true,

  vmType(kvm: Kvm, config: MachineConfig<Arm64Boot>): number {
    // Before any kernel object exists: the options, and whether the timers' interrupts can reach the guest.
    checkTimerInterruptPath(arm64MachineOptions(config.archOptions), config.devices ?? [], kvm.checkExtension(KvmCap.ARM_USER_IRQ) > 0);
    const ipaBits = kvm.checkExtension(KvmCap.ARM_VM_IPA_SIZE);
    return ipaBits > 0 ? ipaBits & KVM_VM_TYPE_ARM_IPA_SIZE_MASK : 0;
  },

  configureVm(vm: KvmVM): void {
    if (vm.hasCapability(KvmCap.ARM_NISV_TO_USER)) vm.enableCapability(KvmCap.ARM_NISV_TO_USER);
  },

  memoryLayout(bytes: number): MemoryRegionOptions[] {
    return [{ name: 'ram', guestPhysAddr: ARM64_LAYOUT.ramBase, size: bytes }];
  },

  prepareBoot(vm: KvmVM, memory: GuestMemory, config: MachineConfig<Arm64Boot>): Arm64InitialState[] {
    return prepareArm64Boot(vm, memory, config, minimalVgicV3Controller);
  },

  threadContextFromData(data: unknown): ArmV8ThreadContext {
    return ArmV8ThreadContext.fromData(data);
  },

  checkpoint: arm64CheckpointSupport,

  /** Linux on the in-kernel vGICv3 and timer, with a PL011 at its default place as the console. */
  linuxBoot(request: LinuxBootRequest): LinuxBootProfile<Arm64Boot> {
    return arm64ArchPlugin.linuxBootFromFiles!(request);
  },
  // The loader places BootFiles itself (boot/load.ts): the kernel is read straight into guest RAM.
  linuxBootFromFiles(request: LinuxBootFilesRequest): LinuxBootProfile<Arm64Boot> {
    const cmdline = linuxCmdline(request.append);
    return {
      boot: { kind: 'kernel', image: request.kernel, ...(request.initrd ? { initrd: request.initrd } : {}), cmdline },
      devices: [pl011({}, ARM64_LINUX_CONSOLE)],
      consoleDevice: ARM64_LINUX_CONSOLE,
      cmdline,
    };
  },
};

/**
 * The arm64 plugin for the machine whose container is `container`: as arm64ArchPlugin, with the
 * in-kernel GIC from the controller registered there under ARM64_INTERRUPT_CONTROLLER (a GIC
 * package's), and that controller's checkpoint component in place of the vGIC's refusal.
 */
export function arm64ArchPluginIn(container: DependencyContainer): typeof arm64ArchPlugin {
  if (!container.isRegistered(ARM64_INTERRUPT_CONTROLLER, true)) return arm64ArchPlugin;
  const controller = container.resolve(ARM64_INTERRUPT_CONTROLLER);
  return {
    ...arm64ArchPlugin,
    prepareBoot: (vm, memory, config) => prepareArm64Boot(vm, memory, config, controller),
    checkpoint: { ...arm64CheckpointSupport, vmComponents: (config) => arm64VmComponents(config, controller) },
  };
}

/** The console UART's instance name in linuxBoot machines. */
export const ARM64_LINUX_CONSOLE = 'uart0';

/** Module entry for kvmts: register the arm64 arch plugin and its devices in `container`. */
export function register(container: DependencyContainer): void {
  // Resolved per machine container: a GIC package registered there supplies the in-kernel GIC.
  container.register(ARCH_PLUGIN, { useFactory: (c) => arm64ArchPluginIn(c) });
  container.register(DEVICE_PLUGIN, { useValue: pl011Plugin });
}
