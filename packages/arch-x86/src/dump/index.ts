/** The eight x86 state dumps, as structured objects and as text. */
export * from './sections';
export * from './dump';
