export * from './intid';
export * from './state-table';
