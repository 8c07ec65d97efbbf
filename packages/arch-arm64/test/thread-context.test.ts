import { ConfigError } from '@kvmts/core';
import { ARM64_CORE_REGISTERS, ARM64_FP_REGISTERS, ArmV8ThreadContext, describePstate, formatArmV8Dump } from '../src';

describe('ArmV8ThreadContext', () => {
  it('has every register of every class, named as in the tables, all bigint', () => {
    const tc = new ArmV8ThreadContext();
    expect(Object.keys(tc.core)).toEqual(ARM64_CORE_REGISTERS.map((r) => r.name));
    expect(Object.keys(tc.fp)).toEqual(ARM64_FP_REGISTERS.map((r) => r.name));
    expect(Object.keys(tc.sys)).toContain('CNTV_CVAL_EL0');
    expect(Object.keys(tc.id)).toContain('ID_AA64MMFR0_EL1');
    expect(Object.values(tc.toJSON().core).every((v) => typeof v === 'bigint')).toBe(true);
  });

  it('round-trips through structured clone and fromData, 128-bit V registers included', () => {
    const tc = new ArmV8ThreadContext();
    tc.core.x30 = 0xffff_0000_0000_0001n;
    tc.fp.v7 = (0xdead_beefn << 96n) | 1n;
    tc.sys.TPIDR_EL0 = 42n;
    tc.id.ID_AA64MMFR0_EL1 = 0x5n;
    const back = ArmV8ThreadContext.fromData(structuredClone(tc.toJSON()));
    expect(back.toJSON()).toEqual(tc.toJSON());
    expect(back).toBeInstanceOf(ArmV8ThreadContext);
  });

  it('refuses data of another shape, naming the register (assertSameShape)', () => {
    const data = new ArmV8ThreadContext().toJSON() as unknown as Record<string, Record<string, unknown>>;
    const missing = structuredClone(data);
    delete missing.core.pc;
    expect(() => ArmV8ThreadContext.fromData(missing)).toThrow(new ConfigError('threadContext.core.pc', 'missing'));
    const number = structuredClone(data);
    number.fp.fpcr = 0;
    expect(() => ArmV8ThreadContext.fromData(number)).toThrow(/threadContext\.fp\.fpcr: expected a bigint/);
    const extra = structuredClone(data);
    extra.sys.OSLSR_EL1 = 0n;
    expect(() => ArmV8ThreadContext.fromData(extra)).toThrow(/threadContext\.sys\.OSLSR_EL1: unknown field/);
  });
});

describe('register dump', () => {
  it('decodes PSTATE: mode, NZCV and DAIF', () => {
    expect(describePstate(0x3c5n)).toBe('EL1h nzcv DAIF');
    expect(describePstate(0x6000_0000n)).toBe('EL0t nZCv daif');
    expect(describePstate(0x10n)).toBe('AArch32 mode 0x10 nzcv daif');
  });

  it('shows the general, special, FP and synced system registers', () => {
    const tc = new ArmV8ThreadContext();
    tc.core.pc = 0x4000_0000n;
    tc.fp.v1 = 1n << 100n;
    const dump = formatArmV8Dump(tc, ['SCTLR_EL1']);
    expect(dump).toContain(' x0: 0x0000000000000000');
    expect(dump).toContain('pc: 0x0000000040000000');
    expect(dump).toContain('v1: 0x00000010000000000000000000000000');
    expect(dump).toContain('SCTLR_EL1: 0x');
    expect(dump).not.toContain('TCR_EL1');
  });
});
