export * from './intid';
export * from './state-table';
export * from './gicv2';
