export * from './intid';
