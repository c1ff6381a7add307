export * from './entries.ts';
export * from './jsonSchema.ts';
