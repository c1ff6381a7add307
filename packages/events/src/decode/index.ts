export * from './logDecoder.ts';
export { decodeVictims } from './victims.ts';
