import { ConfigError, KvmMpState, assertSameShape, type ThreadContext } from '@kvmts/core';

/** The MP states an arm64 vCPU has (api.rst, KVM_SET_MP_STATE): running, powered off, suspended in WFI. */
export const ARM64_MP_STATES: readonly number[] = [KvmMpState.RUNNABLE, KvmMpState.STOPPED, KvmMpState.SUSPENDED];
import { ARMV8_REGISTER_CLASS_NAMES, zeroRegisters, type ArmV8Registers } from './register-classes';

/** The plain-data form of an ArmV8ThreadContext (what toJSON returns and fromData accepts). */
export interface ArmV8ThreadContextData extends ArmV8Registers {
  readonly arch: 'arm64';
  /** KVM_MP_STATE_* (RUNNABLE, STOPPED for a powered-off vCPU): see ./mp-state.ts. */
  readonly mpState: number;
}

/**
 * AArch64 architectural state of one hardware thread, as kvmts moves it between CPU models: the
 * core, FP/SIMD and allow-listed system registers, the ID registers a CPU model must match, and
 * its power (MP) state.
 * The virtual counter is not here: it belongs to the VM (../state/virtual-counter.ts).
 */
export class ArmV8ThreadContext implements ThreadContext, ArmV8Registers {
  readonly arch = 'arm64';
  core: ArmV8Registers['core'];
  fp: ArmV8Registers['fp'];
  sys: ArmV8Registers['sys'];
  id: ArmV8Registers['id'];
  /** The vCPU's power state, KVM_MP_STATE_* (./mp-state.ts); RUNNABLE (0) by default. */
  mpState = 0;

  constructor() {
    ({ core: this.core, fp: this.fp, sys: this.sys, id: this.id } = zeroRegisters());
  }

  toJSON(): ArmV8ThreadContextData {
    return { arch: this.arch, core: { ...this.core }, fp: { ...this.fp }, sys: { ...this.sys }, id: { ...this.id }, mpState: this.mpState };
  }

  copyFrom(other: ArmV8Registers): void {
    for (const cls of ARMV8_REGISTER_CLASS_NAMES) Object.assign(this[cls], other[cls]);
  }

  /**
   * A context from its plain-data form, checked register by register against a fresh context's
   * shape (a missing or renamed register is a ConfigError naming it, not a silently zero one).
   */
  static fromData(data: unknown): ArmV8ThreadContext {
    const tc = new ArmV8ThreadContext();
    assertSameShape(tc.toJSON(), data, 'threadContext');
    const { mpState } = data as ArmV8ThreadContextData;
    if (!ARM64_MP_STATES.includes(mpState)) {
      throw new ConfigError('threadContext.mpState', `must be one of the arm64 MP states ${ARM64_MP_STATES.map((s) => `${KvmMpState[s]} (${s})`).join(', ')}, got ${mpState}`);
    }
    tc.copyFrom(data as ArmV8ThreadContextData);
    tc.mpState = mpState;
    return tc;
  }
}
