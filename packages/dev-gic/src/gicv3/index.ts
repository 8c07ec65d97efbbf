export { GicV3Model, defaultGicV3Identity, KVM_GICV3_IIDR, type GicV3ModelOptions, type GicV3OutputListener } from './model';
export { GicV3Interrupts, routeAffinity, ICFGR_EDGE, IROUTER_IRM, type GicV3Geometry } from './interrupts';
export { GicV3CpuInterfaces, ICC_ACTION_REGISTERS, ICC_SRE_VALUE, IccCtlr, iccName, type Hppi } from './cpu-interface';
export { type GicV3Identity, type GicV3View } from './frames';
export { GICD_PER_INTID, GICR_SGI_PER_INTID, GICD_ICPENDR, GICD_FRAME_BYTES as GICV3_GICD_FRAME_BYTES, GICR_FRAME_BYTES as GICV3_GICR_FRAME_BYTES, Gicd as GicV3d, Gicr as GicV3r, GicdCtlr as GicV3dCtlr, GicrWaker, GicV3Id, type PerIntidRegister, type PerIntidBehaviour } from './registers';
export { gicV3AttrIo } from './attr-io';
