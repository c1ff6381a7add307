export * from './anvilAccounts.ts';
export { dataTokenAbi, dataTokenBytecode } from './artifacts/DataToken.ts';
export { ghostCoreAbi, ghostCoreBytecode } from './artifacts/GhostCore.ts';
export { traceScanAbi, traceScanBytecode } from './artifacts/TraceScan.ts';
export { type DeployGhostnetOptions, deployGhostnet, type GhostnetDeployment } from './deploy.ts';
export * from './deployment.ts';
export * from './eip712.ts';
export * from './levels.ts';
