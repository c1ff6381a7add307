export * from './abi/index.ts';
export * from './decode/index.ts';
export * from './enums.ts';
export * from './envelope/index.ts';
export * from './frontend/index.ts';
export * from './primitives.ts';
export * from './schema/index.ts';
export * from './subjects.ts';
