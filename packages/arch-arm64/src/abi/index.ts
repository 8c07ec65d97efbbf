export * from './layouts';
export * from './ioctls';
export * from './constants';
export * from './prefixes';
export * from './one-reg';
export * from './registers';
export * from './system-registers';
export * from './irq-line';
