export * from './intid';
export * from './kernel';
export { register, DEV_GIC_MODULE, DEV_GIC_V3_ITS_MODULE, DEV_GIC_V2_MODULE } from './plugin';
