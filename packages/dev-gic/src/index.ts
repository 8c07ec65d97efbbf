export * from './intid';
export * from './state-table';
export * from './gicv2';
export { DEV_GIC_MODULE } from './module-name';
export { register } from './register';
