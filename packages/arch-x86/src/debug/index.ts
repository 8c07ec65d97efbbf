export * from './debug-registers';
export * from './page-walk';
export * from './guest-debugger';
