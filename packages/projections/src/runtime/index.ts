export * from './decode.ts';
export * from './generations.ts';
export * from './runner.ts';
export * from './types.ts';
export type { BatchInfo, WorkerStats } from './worker.ts';
