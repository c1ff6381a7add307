import { parseAbi } from 'viem';

export const traceScanEventsAbi = parseAbi([
  'event ScanExecuted(uint8 indexed level, uint256 indexed scanId, uint256 seed, uint64 executedAt)',
  'event DeathsSubmitted(uint8 indexed level, uint256 indexed scanId, uint256 count, uint256 totalDead, address indexed submitter)',
  'event ScanFinalized(uint8 indexed level, uint256 indexed scanId, uint256 deathCount, uint256 totalDead, uint64 finalizedAt)',
]);

/** The call whose input names a scan's victims: no event does (facts file, "Quirks"). */
export const submitDeathsAbi = parseAbi(['function submitDeaths(uint8 level, address[] users)']);
