export * from './gsi-routes';
export * from './userspace-controller';
export * from './userspace-injection';
export * from './vm-interrupts';
