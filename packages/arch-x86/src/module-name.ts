/** The module specifier of this package: plugin registrations and device specs point at it. */
export const ARCH_X86_MODULE = '@kvmts/arch-x86';
