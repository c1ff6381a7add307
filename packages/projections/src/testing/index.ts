export * from './harness.ts';
export * from './synthetic.ts';
