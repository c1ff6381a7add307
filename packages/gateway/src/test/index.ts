/** Test helpers shared by this package's tests and apps/gateway's process tests (`@ghostnet/gateway/testing`). */
export * from './envelopes.ts';
export * from './harness.ts';
