import { assertSameShape, type ThreadContext } from '@kvmts/core';
import { ARMV8_REGISTER_CLASS_NAMES, zeroRegisters, type ArmV8Registers } from './register-classes';

/** The plain-data form of an ArmV8ThreadContext (what toJSON returns and fromData accepts). */
export interface ArmV8ThreadContextData extends ArmV8Registers {
  readonly arch: 'arm64';
}

/**
 * AArch64 architectural state of one hardware thread, as kvmts moves it between CPU models: the
 * core, FP/SIMD and allow-listed system registers, and the ID registers a CPU model must match.
 * The virtual counter is not here: it belongs to the VM (../state/virtual-counter.ts).
 */
export class ArmV8ThreadContext implements ThreadContext, ArmV8Registers {
  readonly arch = 'arm64';
  core: ArmV8Registers['core'];
  fp: ArmV8Registers['fp'];
  sys: ArmV8Registers['sys'];
  id: ArmV8Registers['id'];

  constructor() {
    ({ core: this.core, fp: this.fp, sys: this.sys, id: this.id } = zeroRegisters());
  }

  toJSON(): ArmV8ThreadContextData {
    return { arch: this.arch, core: { ...this.core }, fp: { ...this.fp }, sys: { ...this.sys }, id: { ...this.id } };
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
    tc.copyFrom(data as ArmV8ThreadContextData);
    return tc;
  }
}
