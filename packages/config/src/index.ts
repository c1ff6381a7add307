export * from './env.ts';
export * from './fragments.ts';
export { Secret } from './secret.ts';
