export * from './feed.ts';
export * from './shapes.ts';
