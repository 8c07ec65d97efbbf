export * from './cpu-fingerprint';
export * from './vm-state';
export * from './support';
