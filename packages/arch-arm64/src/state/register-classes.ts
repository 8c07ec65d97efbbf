/**
 * The register classes an ArmV8ThreadContext is made of, and how each travels through ONE_REG.
 * Sync is lazy per class (./register-sync.ts): reading the FP registers does not fetch the 24
 * system registers, and changing PC pushes only the core class.
 */
import {
  ARM64_CORE_REGISTERS,
  ARM64_FP_REGISTERS,
  ARM64_ID_REGISTERS,
  ARM64_SYSTEM_REGISTERS,
  type Arm64CoreRegName,
  type Arm64FpRegName,
  type Arm64IdRegName,
  type Arm64SysRegName,
} from '../abi';

export interface ArmV8Registers {
  /** X0–X30, SP_EL0, PC, PSTATE, SP_EL1, ELR_EL1 and the SPSRs (U64 each). */
  core: Record<Arm64CoreRegName, bigint>;
  /** V0–V31 (128-bit bigints), FPSR, FPCR. */
  fp: Record<Arm64FpRegName, bigint>;
  /** The allow-listed system registers (../abi/system-registers.ts). */
  sys: Record<Arm64SysRegName, bigint>;
  /** The ID_AA64* registers: compared, never written, when a context changes CPU model. */
  id: Record<Arm64IdRegName, bigint>;
}

export type ArmV8RegisterClass = keyof ArmV8Registers;

export interface RegisterClassSpec {
  readonly registers: readonly { readonly name: string; readonly id: bigint }[];
  /** Pushed to KVM when changed; ID registers are only compared. */
  readonly writable: boolean;
  /** The guest can change them, so they are stale after every run (ID registers never change). */
  readonly changesWhileRunning: boolean;
  /**
   * Only the ids KVM_GET_REG_LIST reports are synced (a kernel may lack a system register, and
   * hides ID registers of features the vCPU does not have); core registers are always there.
   */
  readonly intersectWithRegList: boolean;
}

/** The classes in push order: core before system registers (gem5 pushes PSTATE and core state first). */
export const ARMV8_REGISTER_CLASSES: Readonly<Record<ArmV8RegisterClass, RegisterClassSpec>> = {
  core: { registers: ARM64_CORE_REGISTERS, writable: true, changesWhileRunning: true, intersectWithRegList: false },
  fp: { registers: ARM64_FP_REGISTERS, writable: true, changesWhileRunning: true, intersectWithRegList: false },
  sys: { registers: ARM64_SYSTEM_REGISTERS, writable: true, changesWhileRunning: true, intersectWithRegList: true },
  id: { registers: ARM64_ID_REGISTERS, writable: false, changesWhileRunning: false, intersectWithRegList: true },
};

export const ARMV8_REGISTER_CLASS_NAMES = Object.keys(ARMV8_REGISTER_CLASSES) as ArmV8RegisterClass[];

function zeros<Name extends string>(registers: readonly { readonly name: Name }[]): Record<Name, bigint> {
  return Object.fromEntries(registers.map((r) => [r.name, 0n])) as Record<Name, bigint>;
}

/** Every register of every class, zero. */
export function zeroRegisters(): ArmV8Registers {
  return { core: zeros(ARM64_CORE_REGISTERS), fp: zeros(ARM64_FP_REGISTERS), sys: zeros(ARM64_SYSTEM_REGISTERS), id: zeros(ARM64_ID_REGISTERS) };
}
