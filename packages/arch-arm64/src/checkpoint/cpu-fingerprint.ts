/**
 * The arm64 CPU fingerprint of a checkpoint (core's CpuFingerprint, kind 'arm64-id-regs'):
 *
 *  - identity: MIDR_EL1's implementer and part number. Variant and revision are left out:
 *    revisions of one part run the same guests (their differences show in the ID fields).
 *  - features: every 4-bit field of every ID_AA64* register KVM lists, one word per field
 *    ('ID_AA64MMFR0_EL1.PARange'), one-hot: bit n set means the field's value is n. Core's
 *    comparison asks every saved bit to be set on the restoring CPU, which for a one-hot word
 *    means the field must be equal — the rule a vCPU applies anyway when a context moves onto
 *    it (../state/id-registers.ts), here checked before anything is created, and a mismatch
 *    names the field ("ID_AA64MMFR0_EL1.PARange: bit 5 set at save": the saved value was 5).
 *  - digest: SHA-256 of MIDR_EL1 and the ID register values, for diagnostics.
 *
 * ID registers are only readable through a vCPU, so the host's are read from a scratch VM with
 * one vCPU initialised like a machine's (QEMU reads them the same way); x86 reads CPUID from
 * the system fd instead.
 */
import * as native from '@kvmts/native';
import { KvmCap, KvmIoctl, createSha256, kvmIoctl, type CpuFingerprint, type Kvm } from '@kvmts/core';
import { ARM64_ID_REGISTERS, Arm64Ioctl, Arm64VcpuFeature, Arm64VcpuInitLayout, KVM_VM_TYPE_ARM_IPA_SIZE_MASK, sysRegId, type Arm64IdRegName } from '../abi';
import { OneRegIo } from '../state/one-reg-io';


export const ARM64_FINGERPRINT_KIND = 'arm64-id-regs';

/** MIDR_EL1 (Arm ARM D23.2): op0 3, op1 0, CRn 0, CRm 0, op2 0. */
export const ARM64_MIDR_EL1_ID = sysRegId({ op0: 3, op1: 0, crn: 0, crm: 0, op2: 0 });

/** What the fingerprint is computed from: MIDR_EL1 and the ID_AA64* registers KVM lists (absent ones are left out). */
export interface Arm64CpuIds {
  readonly midr: bigint;
  readonly id: Partial<Record<Arm64IdRegName, bigint>>;
}

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

/** 'ID_AA64ISAR0_EL1.AES', or 'ID_AA64AFR0_EL1.bits[7:4]' for a field the Arm ARM leaves unnamed. */
export function idFieldWord(register: string, fieldName: string, index: number): string {
  return `${register}.${fieldName || `bits[${4 * index + 3}:${4 * index}]`}`;
}

/** A fingerprint from the IDs (pure; golden-tested). */
export function arm64FingerprintFrom(ids: Arm64CpuIds): CpuFingerprint {
  const features: Record<string, string> = {};
  const digestInput: string[] = [`MIDR_EL1=${hex(ids.midr)}`];
  for (const reg of ARM64_ID_REGISTERS) {
    const value = ids.id[reg.name];
    if (value === undefined) continue;
    digestInput.push(`${reg.name}=${hex(value)}`);
    reg.fields.forEach((name, i) => {
      const field = Number((value >> BigInt(4 * i)) & 0xfn);
      features[idFieldWord(reg.name, name, i)] = hex(1 << field);
    });
  }
  return {
    kind: ARM64_FINGERPRINT_KIND,
    // MIDR_EL1: Implementer [31:24], Variant [23:20], Architecture [19:16], PartNum [15:4], Revision [3:0].
    identity: { implementer: hex((ids.midr >> 24n) & 0xffn), part: hex((ids.midr >> 4n) & 0xfffn) },
    features,
    digest: createSha256().update(digestInput.join('\n')).digest('hex'),
  };
}

/** MIDR_EL1 and the listed ID_AA64* registers of a fresh vCPU of a scratch VM (closed before returning). */
export function readHostCpuIds(kvm: Kvm): Arm64CpuIds {
  const ipaBits = kvm.checkExtension(KvmCap.ARM_VM_IPA_SIZE);
  const vmFd = kvm.createVmFd(ipaBits > 0 ? ipaBits & KVM_VM_TYPE_ARM_IPA_SIZE_MASK : 0);
  let vcpuFd = -1;
  let io: OneRegIo | undefined;
  try {
    vcpuFd = kvmIoctl(vmFd, KvmIoctl.CREATE_VCPU, 'KVM_CREATE_VCPU(scratch)', 0);
    const init = new DataView(new ArrayBuffer(Arm64VcpuInitLayout.size));
    kvmIoctl(vmFd, Arm64Ioctl.ARM_PREFERRED_TARGET, 'KVM_ARM_PREFERRED_TARGET', init);
    // The features a machine's vCPU 0 gets (vcpu-init.ts): PSCI 0.2 changes no ID register, but the same init keeps it so.
    init.setUint32(Arm64VcpuInitLayout.fields.features.offset, 1 << Arm64VcpuFeature.PSCI_0_2, true);
    kvmIoctl(vcpuFd, Arm64Ioctl.ARM_VCPU_INIT, 'KVM_ARM_VCPU_INIT(scratch)', init);
    io = new OneRegIo(vcpuFd);
    const listed = new Set(io.list());
    const id: Partial<Record<Arm64IdRegName, bigint>> = {};
    for (const reg of ARM64_ID_REGISTERS) if (listed.has(reg.id)) id[reg.name] = io.get(reg.id);
    return { midr: io.get(ARM64_MIDR_EL1_ID), id };
  } finally {
    io?.close();
    if (vcpuFd >= 0) native.close(vcpuFd);
    native.close(vmFd);
  }
}

/** The fingerprint of this host's CPU as KVM offers it to an arm64 guest (the same for every machine config). */
export function arm64CpuFingerprint(kvm: Kvm): CpuFingerprint {
  return arm64FingerprintFrom(readHostCpuIds(kvm));
}
