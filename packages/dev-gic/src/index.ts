export * from './intid';
export * from './kernel';
export * from './state-table';
export * from './gicv2';
export { register, DEV_GIC_MODULE, DEV_GIC_V3_ITS_MODULE, DEV_GIC_V2_MODULE } from './plugin';
export * from './gicv3';
