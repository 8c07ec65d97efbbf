export { GicV2Model, gicV2ModelBytes, type GicV2ModelOptions, type GicOutputLine, type GicOutputListener } from './model';
export { GICV2_MAX_CPUS, GICV2_DEFAULT_PRIORITY_BITS, type GicV2Geometry } from './storage';
export { Gicd, Gicc, GicdCtlr, GiccCtlr, GicdSgir, SgiFilter, GICD_FRAME_BYTES, GICC_FRAME_BYTES, GICD_IIDR_VALUE, GICC_IIDR_VALUE } from './registers';
export { GIC_GROUP1_PENDING_INTID } from './cpu-interface';
export { GICV2_STATE_TABLE, GicV2Frame, gicV2StateAccess, saveGicV2State, restoreGicV2State, gicV2StateWords, type GicV2State } from './state';
export { GicV2Device } from './device';
export { gicV2, gicV2Plugin, checkedGicV2Options, GICV2_DEVICE_TYPE, GICV2_DEFAULT_BASES, type GicV2Options, type CheckedGicV2Options } from './plugin';
