/** Boot and mode builders: pure functions from a layout to memory bytes and register values. */
export * from './control-registers';
export * from './layout';
export * from './long-mode';
export * from './mode-setup';
export * from './page-tables';
export * from './protected-mode';
export * from './real-mode';
export * from './segment';
