-- Projection `game`, code version 2: what GhostCore computes from the same events, so that the tables equal
-- getPosition/getLevelState exactly: reward accumulators per level (accRewardsPerShare, 1e18 precision) and
-- per position (rewardDebt, rewards stored by reset settlements), and the system reset deadline.
-- Called by the projector with search_path = <generation schema>, public.
CREATE FUNCTION projection_ddl_game_v2() RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM projection_ddl_game_v1();
  ALTER TABLE positions
    ADD COLUMN reward_debt public.uint256 NOT NULL DEFAULT 0,
    ADD COLUMN stored_rewards public.uint256 NOT NULL DEFAULT 0;
  ALTER TABLE level_stats ADD COLUMN acc_rewards_per_share public.uint256 NOT NULL DEFAULT 0;
  -- Deposits push it out (GhostCore._extendResetTimer); before the first event it is unknown, and the first
  -- deposit is taken as if the deployment's 24 h deadline started then.
  ALTER TABLE network_state ADD COLUMN reset_deadline timestamptz;
END $$;
