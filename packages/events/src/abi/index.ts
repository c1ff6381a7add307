export { ghostCoreEventsAbi } from './ghostCore.ts';
export { submitDeathsAbi, traceScanEventsAbi } from './traceScan.ts';
