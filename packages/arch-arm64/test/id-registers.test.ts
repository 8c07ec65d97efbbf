import { ConfigError } from '@kvmts/core';
import { ArmV8ThreadContext, assertIdRegistersMatch, idRegisterMismatches } from '../src';

function ids(): ArmV8ThreadContext['id'] {
  const id = new ArmV8ThreadContext().id;
  id.ID_AA64MMFR0_EL1 = 0x0000_0000_0f10_1125n; // PARange 5 (48 bits), ASIDBits 2 (16 bits), …
  id.ID_AA64PFR0_EL1 = 0x0000_0000_0000_1111n;
  return id;
}

describe('ID registers must match for a context to change CPU model', () => {
  it('accepts identical ID registers', () => {
    expect(idRegisterMismatches(ids(), ids())).toEqual([]);
    expect(() => assertIdRegistersMatch(ids(), ids())).not.toThrow();
  });

  it('lists each differing field by its Arm ARM name, memory-system fields included', () => {
    const other = ids();
    other.ID_AA64MMFR0_EL1 = (other.ID_AA64MMFR0_EL1 & ~0xffn) | 0x02n; // PARange 2 (40 bits), ASIDBits 0 (8 bits)
    other.ID_AA64PFR0_EL1 |= 1n << 32n; // SVE
    other.ID_AA64AFR0_EL1 = 0x10n; // an IMPLEMENTATION DEFINED field
    expect(idRegisterMismatches(ids(), other)).toEqual([
      { register: 'ID_AA64PFR0_EL1', field: 'SVE', kvm: 0, context: 1 },
      { register: 'ID_AA64AFR0_EL1', field: 'bits[7:4]', kvm: 0, context: 1 },
      { register: 'ID_AA64MMFR0_EL1', field: 'PARange', kvm: 5, context: 2 },
      { register: 'ID_AA64MMFR0_EL1', field: 'ASIDBits', kvm: 2, context: 0 },
    ]);
    let error: unknown;
    try {
      assertIdRegistersMatch(ids(), other);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).setting).toBe('threadContext.id');
    expect((error as Error).message).toContain('ID_AA64MMFR0_EL1.PARange (KVM 5, context 2), ID_AA64MMFR0_EL1.ASIDBits (KVM 2, context 0)');
  });
});
