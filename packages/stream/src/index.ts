export * from './connect.ts';
export * from './ensureStream.ts';
export * from './messageId.ts';
export * from './orderedConsumer.ts';
export * from './readRange.ts';
export * from './streamConfig.ts';
