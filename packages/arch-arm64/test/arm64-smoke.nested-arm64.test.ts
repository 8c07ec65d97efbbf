/**
 * Nested arm64 tier smoke test (runs inside qemu-system-aarch64 -M virt,virtualization=on,
 * gic-version=3, see docs/testing.md): @kvmts/arch-arm64 sets up a VM, an initialised vCPU and
 * the in-kernel vGICv3, and scripts/nested/guest-asm/arm64/mmio-store.s — two stores to
 * unmapped guest-physical memory — comes back as two KVM_EXIT_MMIO.
 */
import * as os from 'node:os';
import { KvmError, Stop } from '@kvmts/core';
import { Arm64KvmDeviceType, encodeIrqLine } from '@kvmts/arch-arm64';
import { RecordingDevice, TEST_MMIO, guestProgram, makeRig, type Rig } from './support/rig';

describe('nested arm64: KVM, vGICv3 and an MMIO exit through @kvmts/arch-arm64', () => {
  let rig: Rig;
  beforeAll(() => {
    rig = makeRig({ kind: 'kernel', image: guestProgram('mmio-store') });
  });
  afterAll(() => rig?.close());

  it('runs on arm64', () => {
    expect(os.arch()).toBe('arm64');
  });

  it('creates an initialised vCPU and a vGICv3 and reports two MMIO stores', () => {
    expect(rig.vm.canCreateDevice(Arm64KvmDeviceType.ARM_VGIC_V3)).toBe(true);
    const cpu = rig.cpus[0];
    const device = new RecordingDevice();
    cpu.mmio.attach({ base: TEST_MMIO, size: 0x1000 }, device);
    cpu.setRegisters('core', { x0: BigInt(TEST_MMIO) });
    expect(cpu.runLoop(2)).toEqual(Stop.exitLimit);
    expect(device.accesses).toEqual([
      { op: 'write', offset: 0, size: 8, value: 0x1234n },
      { op: 'write', offset: 8, size: 4, value: 0x1235n },
    ]);
    expect(cpu.registers('core').x1).toBe(0x1235n);
  });

  it('drives interrupt lines with the encoded KVM_IRQ_LINE word, which KVM checks against its vGIC', () => {
    const vm = rig.vm;
    for (const level of [true, false]) {
      vm.setIrqLine(encodeIrqLine({ type: 'spi', intid: 33 }), level); // the PL011's SPI 1
      vm.setIrqLine(encodeIrqLine({ type: 'ppi', vcpu: 0, intid: 20 }), level);
    }
    // Beyond the 128 INTIDs the vGIC was given, and to a vCPU that does not exist: KVM refuses both.
    expect(() => vm.setIrqLine(encodeIrqLine({ type: 'spi', intid: 32 + 200 }), true)).toThrow(KvmError);
    expect(() => vm.setIrqLine(encodeIrqLine({ type: 'ppi', vcpu: 1, intid: 20 }), true)).toThrow(KvmError);
  });
});
