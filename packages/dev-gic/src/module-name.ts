/** The module specifier of this package: plugin registrations and device specs point at it. */
export const DEV_GIC_MODULE = '@kvmts/dev-gic';
