export * from './env.ts';
export * from './file.ts';
export * from './fragments.ts';
export { Secret } from './secret.ts';
