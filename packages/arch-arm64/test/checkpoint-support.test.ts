/** The arm64 checkpoint support as pure logic: the CPU fingerprint (golden values), VM components, the MP state in the context. */
import { CheckpointError, ConfigError, KvmMpState, fingerprintMismatches, type CheckpointContext } from '@kvmts/core';
import {
  ARM64_ID_REGISTERS,
  ArmV8ThreadContext,
  arm64ArchPlugin,
  arm64CheckpointSupport,
  arm64FingerprintFrom,
  arm64VirtualCounterComponent,
  arm64VmComponents,
  bindVmVirtualCounter,
  createVirtualCounterState,
  presetVirtualCount,
  savedVirtualCount,
  type Arm64CpuIds,
} from '../src';

// A Cortex-A72 (MIDR 0x410fd083: implementer Arm 0x41, part 0xd08, r0p3) as KVM shows it.
const A72: Arm64CpuIds = {
  midr: 0x410f_d083n,
  id: {
    ID_AA64PFR0_EL1: 0x0000_0000_0000_2222n, // EL0–EL3 AArch64 and AArch32
    ID_AA64MMFR0_EL1: 0x0000_0000_0000_1124n, // PARange 4 (44 bits), ASIDBits 2 (16 bits), BigEnd 1, SNSMem 1
    ID_AA64ISAR0_EL1: 0x0000_0000_0001_1120n, // AES 2 (PMULL), SHA1 1, SHA2 1, CRC32 1
  },
};

describe('arm64 CPU fingerprint', () => {
  it('identity is MIDR implementer and part; every field of every listed ID register is a one-hot word', () => {
    const fp = arm64FingerprintFrom(A72);
    expect(fp.kind).toBe('arm64-id-regs');
    expect(fp.identity).toEqual({ implementer: '0x41', part: '0xd08' });
    // Three registers listed, sixteen 4-bit fields each; unlisted registers are left out.
    expect(Object.keys(fp.features)).toHaveLength(48);
    expect(fp.features['ID_AA64MMFR0_EL1.PARange']).toBe('0x10'); // value 4
    expect(fp.features['ID_AA64MMFR0_EL1.ASIDBits']).toBe('0x4'); // value 2
    expect(fp.features['ID_AA64MMFR0_EL1.ECV']).toBe('0x1'); // value 0
    expect(fp.features['ID_AA64ISAR0_EL1.AES']).toBe('0x4');
    expect(fp.features['ID_AA64ISAR0_EL1.bits[3:0]']).toBe('0x1'); // unnamed field
    expect(fp.features['ID_AA64PFR0_EL1.EL3']).toBe('0x4');
    expect(Object.keys(fp.features).some((k) => k.startsWith('ID_AA64ISAR1_EL1'))).toBe(false);
    expect(fp.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(arm64FingerprintFrom({ ...A72, midr: 0x410f_d084n }).digest).not.toBe(fp.digest); // r0p4: same identity, other digest
    expect(arm64FingerprintFrom({ ...A72, midr: 0x410f_d084n }).identity).toEqual(fp.identity);
  });

  it('the same CPU matches; another part or any differing field (smaller or larger) is listed', () => {
    const saved = arm64FingerprintFrom(A72);
    expect(fingerprintMismatches(saved, arm64FingerprintFrom(A72))).toEqual([]);
    expect(fingerprintMismatches(saved, arm64FingerprintFrom({ ...A72, midr: 0x410f_d0c1n }))).toEqual(['part was 0xd08, this host has 0xd0c']);
    const other = { ...A72, id: { ...A72.id, ID_AA64MMFR0_EL1: 0x0000_0000_0000_1125n, ID_AA64ISAR0_EL1: 0x0000_0000_0001_1110n } };
    expect(fingerprintMismatches(saved, arm64FingerprintFrom(other))).toEqual([
      'ID_AA64ISAR0_EL1.AES: bit 2 set at save, not offered here', // saved 2, host 1
      'ID_AA64MMFR0_EL1.PARange: bit 4 set at save, not offered here', // saved 4, host 5: equal or nothing
    ]);
    // A host missing a register the save had: each of its fields is listed.
    const { ID_AA64ISAR0_EL1: _isar0, ...fewer } = A72.id;
    expect(fingerprintMismatches(saved, arm64FingerprintFrom({ ...A72, id: fewer }))).toHaveLength(16);
  });

  it('covers the whole ID register table', () => {
    const all = Object.fromEntries(ARM64_ID_REGISTERS.map((r) => [r.name, 0n]));
    expect(Object.keys(arm64FingerprintFrom({ midr: 0n, id: all }).features)).toHaveLength(16 * ARM64_ID_REGISTERS.length);
  });
});

describe('arm64 checkpoint support', () => {
  it('is registered on the arm64 plugin, for arm64 hosts', () => {
    expect(arm64ArchPlugin.checkpoint).toBe(arm64CheckpointSupport);
    expect(arm64CheckpointSupport.nodeArch).toBe('arm64');
  });

  it("saves the virtual counter always, and stands the vGICv3 in as a refusal with gic: 'kernel'", () => {
    expect(arm64VmComponents({ arch: 'arm64', memory: 1, archOptions: { gic: 'none', timer: 'none' } }).map((c) => c.name)).toEqual(['arm64.virtual-counter']);
    const kernel = arm64VmComponents({ arch: 'arm64', memory: 1 });
    expect(kernel.map((c) => c.name)).toEqual(['arm64.vgic-v3', 'arm64.virtual-counter']);
    let error: unknown;
    try {
      kernel[0].save({} as CheckpointContext);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as CheckpointError).code).toBe('not-saveable');
    expect((error as CheckpointError).message).toMatch(/^arm64\.vgic-v3: the in-kernel vGICv3 .*gic: 'none'/);
    expect(() => arm64VmComponents({ arch: 'arm64', memory: 1, archOptions: { gic: 'other' } })).toThrow(ConfigError);
  });

  it('the virtual counter saves the count of the last pause and restores it for the first vCPU to enter', () => {
    const vm = {}; // the key the plugin binds a VM's counter state to
    const shared = createVirtualCounterState();
    bindVmVirtualCounter(vm, shared);
    const ctx = { vm } as unknown as CheckpointContext;
    presetVirtualCount(shared, 0x1_2345_6789n);
    expect(arm64VirtualCounterComponent.save(ctx)).toEqual({ count: 0x1_2345_6789n });

    const fresh = createVirtualCounterState();
    const vm2 = {};
    bindVmVirtualCounter(vm2, fresh);
    expect(savedVirtualCount(fresh)).toBeUndefined();
    arm64VirtualCounterComponent.restore({ vm: vm2 } as unknown as CheckpointContext, { count: 0xffff_ffff_0000_0001n });
    expect(savedVirtualCount(fresh)).toBe(0xffff_ffff_0000_0001n);

    expect(() => arm64VirtualCounterComponent.restore({ vm: vm2 } as unknown as CheckpointContext, { count: 5 })).toThrow(/arm64\.virtual-counter\.count: expected a 64-bit unsigned bigint, got number/);
    expect(() => arm64VirtualCounterComponent.restore({ vm: vm2 } as unknown as CheckpointContext, { count: 1n << 64n })).toThrow(/expected a 64-bit unsigned bigint/);
    expect(() => arm64VirtualCounterComponent.save({ vm: {} } as unknown as CheckpointContext)).toThrow(/no virtual-counter state/);
  });
});

describe('the MP state in ArmV8ThreadContext', () => {
  it('round-trips, so a powered-off vCPU stays off', () => {
    const tc = new ArmV8ThreadContext();
    expect(tc.mpState).toBe(KvmMpState.RUNNABLE);
    tc.mpState = KvmMpState.STOPPED;
    expect(ArmV8ThreadContext.fromData(structuredClone(tc.toJSON())).mpState).toBe(KvmMpState.STOPPED);
  });

  it('refuses a state an arm64 vCPU cannot be in, or a missing one', () => {
    const data = { ...new ArmV8ThreadContext().toJSON(), mpState: KvmMpState.SIPI_RECEIVED };
    expect(() => ArmV8ThreadContext.fromData(data)).toThrow(/threadContext\.mpState: must be one of the arm64 MP states RUNNABLE \(0\), STOPPED \(5\), SUSPENDED \(10\), got 4/);
    const { mpState: _m, ...missing } = new ArmV8ThreadContext().toJSON();
    expect(() => ArmV8ThreadContext.fromData(missing)).toThrow(new ConfigError('threadContext.mpState', 'missing'));
  });
});
