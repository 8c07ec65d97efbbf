export * from './image';
export * from './kernel';
export * from './fdt';
export * from './machine-fdt';
export * from './load';
export * from './cmdline';
export * from './userspace-gic';
