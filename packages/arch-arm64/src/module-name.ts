/** The module specifier of this package: plugin registrations and device specs point at it. */
export const ARCH_ARM64_MODULE = '@kvmts/arch-arm64';
