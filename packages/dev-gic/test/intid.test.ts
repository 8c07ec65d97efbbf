import { ConfigError } from '@kvmts/core';
import { implementedIntids, intidKind, isBankedIntid } from '@kvmts/dev-gic';

describe('INTID classes', () => {
  it.each([
    [0, 'sgi'], [15, 'sgi'], [16, 'ppi'], [31, 'ppi'], [32, 'spi'], [1019, 'spi'],
    [1020, 'special'], [1023, 'special'], [1024, 'reserved'], [8191, 'reserved'], [8192, 'lpi'],
  ] as const)('INTID %d is %s', (intid, kind) => {
    expect(intidKind(intid)).toBe(kind);
  });

  it('banks SGIs and PPIs only', () => {
    expect([0, 15, 16, 31, 32, 1019].map(isBankedIntid)).toEqual([true, true, true, true, false, false]);
  });

  it('refuses what is not an INTID', () => {
    expect(() => intidKind(-1)).toThrow(ConfigError);
    expect(() => intidKind(1.5)).toThrow(/not an interrupt identifier/);
  });
});

describe('implemented INTIDs', () => {
  it.each([[64, 64], [65, 96], [96, 96], [288, 288], [1000, 1024 - 4], [1020, 1020]])('%d asked → %d', (asked, got) => {
    expect(implementedIntids(asked)).toBe(got);
  });

  it('refuses counts the GIC cannot have', () => {
    for (const bad of [0, 32, 63, 1021, 64.5]) expect(() => implementedIntids(bad)).toThrow(ConfigError);
  });
});
