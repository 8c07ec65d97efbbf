/** x86 architecture facts (Intel SDM / AMD APM), not KVM ABI: MSRs, CPUID bits, XSAVE, LAPIC. */
export * from './u128';
export * from './xsave';
export * from './msrs';
export * from './cpuid-features';
export * from './lapic';
