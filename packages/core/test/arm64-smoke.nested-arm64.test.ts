/**
 * Nested arm64 tier only (runs inside qemu-system-aarch64 -M virt,virtualization=on,
 * gic-version=3, see docs/testing.md): real arm64 KVM with an in-kernel vGICv3.
 *
 * Opens KVM, creates a VM, a vCPU (preferred target + PSCI 0.2) and a vGICv3, sets PC and X0
 * through ONE_REG, and runs scripts/nested/guest-asm/arm64/mmio-store.s (assembled by the
 * nested runner with aarch64-linux-gnu-as, handed in as $KVMTS_GUEST_ASM/mmio-store.bin):
 * two stores to unmapped guest-physical memory must come back as KVM_EXIT_MMIO.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as native from '@kvmts/native';
import { Kvm, DefaultKvmVM, type KvmVM, KvmIoctl, KvmRunLayout, KvmExitReason, ConfigError, ScratchBuffer, ior, iow, OneRegLayout } from '@kvmts/core';

/** arm64-only ioctls and constants (arch/arm64/include/uapi/asm/kvm.h), only what this test uses. */
const ArmIoctl = {
  ARM_VCPU_INIT: iow(0xae, 32), // struct kvm_vcpu_init: target u32 + features[7] u32
  ARM_PREFERRED_TARGET: ior(0xaf, 32),
} as const;
const VcpuInitLayout = { target: 0, features: 4, size: 32 } as const;
const KVM_ARM_VCPU_PSCI_0_2 = 2;
/** ONE_REG ids of core registers: 0x6030_0000_0010_0000 | offsetof(struct kvm_regs, reg) / 4. */
const CoreReg = { x0: 0x6030_0000_0010_0000n, x1: 0x6030_0000_0010_0002n, pc: 0x6030_0000_0010_0040n } as const;
const KVM_DEV_TYPE_ARM_VGIC_V3 = 7;
const VgicGroup = { ADDR: 0, NR_IRQS: 3, CTRL: 4 } as const;
const VgicV3Addr = { DIST: 2, REDIST: 3 } as const;
const KVM_DEV_ARM_VGIC_CTRL_INIT = 0;

/** Guest physical layout (QEMU virt's GIC addresses; RAM where virt puts it). */
const Layout = { gicDist: 0x0800_0000, gicRedist: 0x080a_0000, ram: 0x4000_0000, ramSize: 0x10000, mmio: 0x1000_0000 } as const;
const NR_IRQS = 64;

function guestProgram(name: string): Buffer {
  const dir = process.env.KVMTS_GUEST_ASM;
  if (!dir) throw new ConfigError('KVMTS_GUEST_ASM', 'unset: this suite runs inside the nested arm64 host (npm run test:nested:arm64)');
  return fs.readFileSync(path.join(dir, name));
}

describe('nested arm64: KVM, vGICv3 and an MMIO exit', () => {
  let kvm: Kvm;
  let vm: KvmVM;
  let scratch: ScratchBuffer;
  let oneReg: DataView;

  const setReg = (vcpuFd: number, id: bigint, value: bigint): void => {
    scratch.view.setBigUint64(0, value, true);
    oneReg.setBigUint64(OneRegLayout.id, id, true);
    oneReg.setBigUint64(OneRegLayout.addr, scratch.address, true);
    native.ioctl(vcpuFd, KvmIoctl.SET_ONE_REG, oneReg);
  };
  const getReg = (vcpuFd: number, id: bigint): bigint => {
    oneReg.setBigUint64(OneRegLayout.id, id, true);
    oneReg.setBigUint64(OneRegLayout.addr, scratch.address, true);
    native.ioctl(vcpuFd, KvmIoctl.GET_ONE_REG, oneReg); // _IOW by design: the struct holds a pointer
    return scratch.view.getBigUint64(0, true);
  };

  beforeAll(() => {
    kvm = Kvm.open();
    vm = new DefaultKvmVM(kvm);
    scratch = new ScratchBuffer(4096);
    oneReg = new DataView(new ArrayBuffer(OneRegLayout.size));
  });
  afterAll(() => {
    vm?.close();
    kvm?.close();
    scratch?.free();
  });

  it('runs on arm64', () => {
    expect(os.arch()).toBe('arm64');
  });

  it('creates a vCPU and a vGICv3 and reports two MMIO stores', () => {
    const code = guestProgram('mmio-store.bin');
    vm.addMemoryRegion({ name: 'ram', guestPhysAddr: Layout.ram, size: Layout.ramSize });
    vm.memory().write(Layout.ram, code);

    const vcpu = vm.createVcpu(0);
    const init = new DataView(new ArrayBuffer(VcpuInitLayout.size));
    native.ioctl(vm.fd, ArmIoctl.ARM_PREFERRED_TARGET, init);
    const target = init.getUint32(VcpuInitLayout.target, true);
    init.setUint32(VcpuInitLayout.features, 1 << KVM_ARM_VCPU_PSCI_0_2, true);
    native.ioctl(vcpu.fd, ArmIoctl.ARM_VCPU_INIT, init);

    // The vGIC is initialised after every vCPU exists: CTRL_INIT sizes the redistributors.
    const gic = vm.createDevice(KVM_DEV_TYPE_ARM_VGIC_V3);
    gic.setAttr(VgicGroup.ADDR, VgicV3Addr.DIST, Layout.gicDist);
    gic.setAttr(VgicGroup.ADDR, VgicV3Addr.REDIST, Layout.gicRedist);
    gic.setAttr(VgicGroup.NR_IRQS, 0, NR_IRQS);
    gic.setAttr(VgicGroup.CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT);
    expect(gic.getAttr(VgicGroup.ADDR, VgicV3Addr.DIST)).toBe(BigInt(Layout.gicDist));
    expect(Number(gic.getAttr(VgicGroup.NR_IRQS, 0) & 0xffffffffn)).toBe(NR_IRQS);

    setReg(vcpu.fd, CoreReg.pc, BigInt(Layout.ram));
    setReg(vcpu.fd, CoreReg.x0, BigInt(Layout.mmio));
    expect(getReg(vcpu.fd, CoreReg.pc)).toBe(BigInt(Layout.ram));

    const run = new DataView(native.mappingById(vcpu.runMappingId).view(0, KvmRunLayout.size));
    const runToExit = (): { reason: string; addr: bigint; len: number; isWrite: number; data: bigint } => {
      expect(native.run(vcpu.fd)).toBe(0);
      const len = run.getUint32(KvmRunLayout.mmio_len, true);
      return {
        reason: KvmExitReason[run.getUint32(KvmRunLayout.exit_reason, true)] ?? 'unknown',
        addr: run.getBigUint64(KvmRunLayout.mmio_phys_addr, true),
        len,
        isWrite: run.getUint8(KvmRunLayout.mmio_is_write),
        data: len === 8 ? run.getBigUint64(KvmRunLayout.mmio_data, true) : BigInt(run.getUint32(KvmRunLayout.mmio_data, true)),
      };
    };

    expect(runToExit()).toEqual({ reason: 'MMIO', addr: BigInt(Layout.mmio), len: 8, isWrite: 1, data: 0x1234n });
    expect(runToExit()).toEqual({ reason: 'MMIO', addr: BigInt(Layout.mmio + 8), len: 4, isWrite: 1, data: 0x1235n });
    expect(getReg(vcpu.fd, CoreReg.x1)).toBe(0x1235n);
    console.log(`nested arm64: preferred target ${target}, vGICv3 with ${NR_IRQS} IRQs, two MMIO exits`);
  });
});
