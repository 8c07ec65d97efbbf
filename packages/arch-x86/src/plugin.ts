import type { DependencyContainer } from 'tsyringe';
import {
  ARCH_PLUGIN,
  PCI_FUNCTION_PLUGIN,
  pciTestDevicePlugin,
  ConfigError,
  DEVICE_PLUGIN,
  kvmIoctl,
  KvmCap,
  type ArchPlugin,
  type GuestMemory,
  type KvmVM,
  type MachineConfig,
  type MemoryRegionOptions,
} from '@kvmts/core';
import { X86Ioctl } from './abi/ioctls';
import { X86PitConfigLayout } from './abi/layouts';
import { KVM_PIT_SPEAKER_DUMMY } from './abi/constants';
import { X86KvmCPU } from './cpu';
import type { X86InitialState } from './state/initial-state';
import { X86ThreadContext } from './state/thread-context';
import { X86_PORT_IO_SPACE } from './address-spaces';
import { x86MachineOptions, type X86Boot } from './machine-options';
import { X86_LAYOUT } from './layout';
import { getSupportedCpuid } from './state/cpuid';
import { buildCpuidTables } from './state/cpuid-normalize';
import { hasCpuidBit } from './state/cpuid-request';
import { getMsrIndexList, readVcpuMsrs } from './state/host-msrs';
import { X86_BOOT_FPU, X86_BOOT_MSRS } from './state/setup-sequence';
import { X86_CPUID_FEATURES } from './isa/cpuid-features';
import { MSR, serializableMsrs } from './isa/msrs';
import { loadFlatImage } from './loader/flat-image';
import { loadKernel } from './loader/kernel-boot';
import { writeMpTable } from './firmware/mp-table';
import { x86LinuxBoot } from './loader/linux-boot';
import { exitDevicePlugin, m5opsDoorbellPlugin, m5opsWindowPlugin, pciHostPlugin, uart8250Plugin } from './devices';
import { cmosRtcPlugin, i8042Plugin, systemControlPortPlugin } from './devices';
import { acpiPmPlugin, acpiPmPort } from './devices/acpi-pm';
import { writeAcpiTables } from './firmware/acpi-tables';
import { apStartState } from './smp/ap-start';
import { ARCH_X86_MODULE } from './module-name';
import { createVmUserspaceIrq, x86IrqLines } from './interrupts/vm-interrupts';
import { noteKernelIrqchip } from './interrupts/gsi-routes';
import { x86CheckpointSupport } from './checkpoint/support';

/**
 * The x86-64 ArchPlugin. The set-up order (x86-64.md §4) is written down once: here for the VM
 * (TSS address, then the in-kernel irqchip and PIT, before any vCPU), in prepareBoot for what
 * each vCPU gets (CPUID, the MSRs it carries, boot values), and in state/setup-sequence.ts for
 * the order the vCPU applies them (CPUID, MSRs, MP state, registers, FPU, special registers,
 * LAPIC).
 */
export const x86ArchPlugin: ArchPlugin<X86Boot, X86InitialState, X86ThreadContext> = {
  arch: 'x86_64',
  module: ARCH_X86_MODULE,
  addressSpaces: [X86_PORT_IO_SPACE],
  cpu: { useClass: X86KvmCPU },

  vmType(): number {
    return 0;
  },

  configureVm(vm: KvmVM, config: MachineConfig<X86Boot>): void {
    const options = x86MachineOptions(config.archOptions);
    // Intel KVM needs three pages for the real-mode TSS; harmless elsewhere.
    kvmIoctl(vm.fd, X86Ioctl.SET_TSS_ADDR, 'KVM_SET_TSS_ADDR', X86_LAYOUT.tssAddress);
    if (options.irqchip === 'kernel') {
      // Must precede KVM_CREATE_VCPU (EINVAL after it): the vCPUs' LAPICs are created with it.
      if (!vm.hasCapability(KvmCap.IRQCHIP)) throw new ConfigError('archOptions.irqchip', "'kernel' needs KVM_CAP_IRQCHIP, which this KVM lacks");
      kvmIoctl(vm.fd, X86Ioctl.CREATE_IRQCHIP, 'KVM_CREATE_IRQCHIP');
      // The PIT joins it in the kernel (its IRQ 0 goes to the in-kernel PIC/IOAPIC), also before
      // the vCPUs. SPEAKER_DUMMY: port 0x61 reads back without a speaker behind it.
      const pit = new DataView(new ArrayBuffer(X86PitConfigLayout.size));
      pit.setUint32(X86PitConfigLayout.fields.flags.offset, KVM_PIT_SPEAKER_DUMMY, true);
      kvmIoctl(vm.fd, X86Ioctl.CREATE_PIT2, 'KVM_CREATE_PIT2', pit);
      noteKernelIrqchip(vm, options.gsiRouting);
    }
  },

  memoryLayout(bytes: number): MemoryRegionOptions[] {
    const low = Math.min(bytes, X86_LAYOUT.mmioHoleStart);
    const regions: MemoryRegionOptions[] = [{ name: 'ram-low', guestPhysAddr: 0, size: low }];
    if (bytes > low) regions.push({ name: 'ram-high', guestPhysAddr: X86_LAYOUT.highRamStart, size: bytes - low });
    return regions;
  },

  prepareBoot(vm: KvmVM, memory: GuestMemory, config: MachineConfig<X86Boot>): X86InitialState[] {
    const cpus = config.cpus ?? 1;
    const options = x86MachineOptions(config.archOptions);
    const inKernelLapic = options.irqchip === 'kernel';
    // The CPUID request is checked before anything is written: a request the host cannot meet
    // is a ConfigError naming the leaf, register and bit.
    const cpuid = buildCpuidTables(getSupportedCpuid(vm.kvm), options.cpuid, { vcpuCount: cpus, inKernelLapic });
    const kvmMsrs = getMsrIndexList(vm.kvm);
    // KVM reports the same MTRRcap on every vCPU (0x500 | its number of variable ranges), before
    // any CPUID is set too (Linux 6.1), so vCPU 0 answers for all.
    const [mtrrCap] = readVcpuMsrs(vm.vcpu(0)!.fd, [MSR.MTRR_CAP]);
    const ramBelow4G = vm.regions.filter((r) => r.confReported && r.guestPhysAddr < 2 ** 32).reduce((end, r) => Math.max(end, Math.min(r.guestPhysAddr + r.size, 2 ** 32)), 0);
    let regs: X86InitialState[] = [];
    const boot = config.boot;
    if (boot !== undefined) {
      // The type says 'flat' or 'kernel'; a config built at run time (a JSON file, the CLI) may say otherwise.
      if (boot.kind === 'kernel') {
        const ram = vm.regions.filter((r) => r.confReported).map((r) => ({ base: r.guestPhysAddr, size: r.size }));
        regs = loadKernel(boot, memory, ram, cpus, inKernelLapic).states;
        // A kernel finds its processors and the IOAPIC's ISA wiring in the MP table (in the
        // BIOS area the e820 map reserves); it describes the GSI routes this machine uses.
        if (options.irqchip === 'kernel') writeMpTable(memory, { cpus, isaRouting: options.gsiRouting === 'pc' ? 'pc' : 'identity' });
        // With an acpi-pm device, the ACPI tables that name it: the kernel can then power off.
        const pmBase = acpiPmPort(config.devices);
        if (pmBase !== undefined) writeAcpiTables(memory, { pmBase });
      } else if (boot.kind === 'flat') regs = loadFlatImage(boot, memory, cpus, ramBelow4G);
      else throw new ConfigError('boot.kind', `unsupported x86 boot kind '${String((boot as { kind: unknown }).kind)}' (supported: 'flat', 'kernel')`);
    }
    const userspaceIrq = options.irqchip === 'userspace' ? createVmUserspaceIrq(vm) : undefined;
    return Array.from({ length: cpus }, (_, id) => {
      // APs enter at the payload's entry, or wait for INIT/SIPI (archOptions.apStart); a kernel's
      // APs always wait: the kernel starts them.
      const start = apStartState(id, boot?.kind === 'kernel' ? 'sipi' : options.apStart, inKernelLapic, boot !== undefined);
      const msrList = serializableMsrs(kvmMsrs, { mtrr: hasCpuidBit(cpuid[id], X86_CPUID_FEATURES.mtrr), mtrrCap: mtrrCap.value, lapic: inKernelLapic });
      return {
        cpuid: cpuid[id],
        inKernelLapic,
        msrList,
        msrs: X86_BOOT_MSRS.filter((m) => msrList.includes(m.index)),
        fpu: X86_BOOT_FPU,
        syncRegs: options.syncRegs,
        ...(options.batchStateSync ? { batchStateSync: true } : {}),
        ...(start.mpState !== undefined ? { mpState: start.mpState } : {}),
        ...(userspaceIrq !== undefined ? { userspaceIrq } : {}),
        ...(start.bootRegisters ? regs[id] : {}),
      };
    });
  },

  threadContextFromData(data: unknown): X86ThreadContext {
    return X86ThreadContext.fromData(data);
  },

  irqLines: x86IrqLines,
  checkpoint: x86CheckpointSupport,
  linuxBoot: x86LinuxBoot,
};

/** Module entry for kvmts: register the x86 arch plugin and its devices in `container`. */
export function register(container: DependencyContainer): void {
  container.register(ARCH_PLUGIN, { useValue: x86ArchPlugin });
  container.register(DEVICE_PLUGIN, { useValue: uart8250Plugin });
  container.register(DEVICE_PLUGIN, { useValue: exitDevicePlugin });
  // Built per container: it finds the PCI function plugins registered in the same one.
  container.register(DEVICE_PLUGIN, { useFactory: (c) => pciHostPlugin(c) });
  container.register(PCI_FUNCTION_PLUGIN, { useValue: pciTestDevicePlugin });
  container.register(DEVICE_PLUGIN, { useValue: m5opsWindowPlugin });
  container.register(DEVICE_PLUGIN, { useValue: m5opsDoorbellPlugin });
  container.register(DEVICE_PLUGIN, { useValue: i8042Plugin });
  container.register(DEVICE_PLUGIN, { useValue: systemControlPortPlugin });
  container.register(DEVICE_PLUGIN, { useValue: acpiPmPlugin });
  container.register(DEVICE_PLUGIN, { useValue: cmosRtcPlugin });
}
