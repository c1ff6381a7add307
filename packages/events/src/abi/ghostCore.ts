import { parseAbi } from 'viem';

/**
 * GhostCore's events, with the exact signatures of the deployed contract (facts file). Level and BoostType
 * are Solidity enums, which the ABI encodes as uint8.
 */
export const ghostCoreEventsAbi = parseAbi([
  'event JackedIn(address indexed user, uint256 amount, uint8 indexed level, uint256 newTotal)',
  'event StakeAdded(address indexed user, uint256 amount, uint256 newTotal)',
  'event Extracted(address indexed user, uint256 amount, uint256 rewards)',
  'event DeathsProcessed(uint8 indexed level, uint256 count, uint256 totalDead, uint256 burned, uint256 distributed)',
  'event SurvivorsUpdated(uint8 indexed level, uint256 count)',
  'event CascadeDistributed(uint8 indexed sourceLevel, uint256 sameLevelAmount, uint256 upstreamAmount, uint256 burnAmount, uint256 protocolAmount)',
  'event EmissionsAdded(uint8 indexed level, uint256 amount)',
  'event BoostApplied(address indexed user, uint8 boostType, uint16 valueBps, uint64 expiry)',
  'event SystemResetTriggered(uint256 totalPenalty, address indexed jackpotWinner, uint256 jackpotAmount)',
  'event PositionCulled(address indexed victim, uint256 penaltyAmount, uint256 returnedAmount, address indexed newEntrant)',
]);
