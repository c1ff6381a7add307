export { deathRoll, GAME_EVENT_NAMES, type GameEventName } from './chain.ts';
export { PROFILE_NAMES, PROFILES, type Profile, type ProfileName, profileOfSlot } from './profiles.ts';
export { Rng } from './rng.ts';
export {
  type PlayerBelief,
  type PlayerStatus,
  runSimulation,
  type SimDeployment,
  type SimulationOptions,
  type SimulationProgress,
  type SimulationSummary,
} from './simulation.ts';
