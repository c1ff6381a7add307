export * from './cli/index.ts';
export * from './derive/survivors.ts';
export * from './projections/index.ts';
export * from './read/index.ts';
export * from './runtime/index.ts';
export * from './time.ts';
