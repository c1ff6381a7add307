export * from './errors.ts';
export * from './migrate.ts';
export * from './pool.ts';
