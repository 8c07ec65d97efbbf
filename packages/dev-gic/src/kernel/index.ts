export * from './v3-attr';
export * from './v3-state-table';
export * from './v3-state';
export * from './kernel-gic-layout';
export * from './kernel-gic';
export * from './vgic-checkpoint';
export * from './controller';
export * from './gic-mux';
