export * from './jwt.ts';
export * from './revocation.ts';
export * from './siwe.ts';
