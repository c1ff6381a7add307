export * from './harness.ts';
export * from './survivors.ts';
export * from './synthetic.ts';
