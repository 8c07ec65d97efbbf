export * from './layouts';
export * from './ioctls';
export * from './constants';
export * from './registers';
export * from './regs-codec';
export * from './sregs-codec';
