-- Projection `game`, code version 1: users, positions and their history, boosts, level stats, network state.
-- Called by the projector with search_path = <generation schema>, public.
CREATE FUNCTION projection_ddl_game_v1() RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  CREATE TABLE users (
    address public.eth_address PRIMARY KEY,
    first_seen_at timestamptz NOT NULL,
    first_seen_seq bigint NOT NULL,
    positions_count integer NOT NULL,
    -- Principal ever put in (jack-ins and stake adds).
    total_staked public.uint256 NOT NULL,
    -- Rewards extracted (the leaderboards' `extracted`).
    total_extracted public.uint256 NOT NULL,
    -- Principal taken back out by extracting.
    total_principal_extracted public.uint256 NOT NULL,
    -- Principal lost to traces, culls and reset penalties.
    total_lost public.uint256 NOT NULL,
    ghost_streak_best integer NOT NULL,
    last_seq bigint NOT NULL
  );

  -- One row per position lifetime; the row with status 'active' is what getPosition(user) reports.
  CREATE TABLE positions (
    id text PRIMARY KEY,
    address public.eth_address NOT NULL,
    level public.level_name NOT NULL,
    status text NOT NULL CHECK (status IN ('active', 'extracted', 'traced', 'culled')),
    amount public.uint256 NOT NULL,
    entry_amount public.uint256 NOT NULL,
    entry_at timestamptz NOT NULL,
    entry_seq bigint NOT NULL,
    entry_tx text NOT NULL,
    ghost_streak integer NOT NULL,
    rewards_extracted public.uint256,
    amount_lost public.uint256 NOT NULL,
    exit_at timestamptz,
    exit_seq bigint,
    exit_tx text,
    last_seq bigint NOT NULL
  );
  CREATE UNIQUE INDEX positions_one_active ON positions (address) WHERE status = 'active';
  CREATE INDEX positions_active_level ON positions (level) WHERE status = 'active';
  CREATE INDEX positions_by_address ON positions (address, entry_seq DESC);

  -- What happened to each position, one row per (event, player).
  CREATE TABLE position_history (
    address public.eth_address NOT NULL,
    sequence bigint NOT NULL,
    position_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN (
      'JACK_IN', 'STAKE_ADDED', 'EXTRACTED', 'TRACED', 'CULLED', 'SURVIVED', 'BOOST', 'RESET_PENALTY'
    )),
    level public.level_name NOT NULL,
    -- The event's amount: stake in, stake added, principal out, principal lost; NULL when none.
    amount public.uint256,
    rewards public.uint256,
    -- Position amount after the event.
    position_amount public.uint256 NOT NULL,
    ghost_streak integer NOT NULL,
    at timestamptz NOT NULL,
    tx_hash text,
    PRIMARY KEY (address, sequence)
  );

  CREATE TABLE boosts (
    sequence bigint PRIMARY KEY,
    address public.eth_address NOT NULL,
    position_id text NOT NULL,
    boost_type text NOT NULL CHECK (boost_type IN ('DEATH_REDUCTION', 'YIELD_MULTIPLIER')),
    value_bps integer NOT NULL,
    expires_at timestamptz NOT NULL,
    applied_at timestamptz NOT NULL,
    -- Extract deletes a position's boosts on chain.
    removed_seq bigint
  );
  CREATE INDEX boosts_present ON boosts (address) WHERE removed_seq IS NULL;

  CREATE TABLE level_stats (
    level public.level_name PRIMARY KEY,
    alive_count integer NOT NULL,
    total_staked public.uint256 NOT NULL,
    -- finalizedAt + scan interval of the last finalized scan (NULL until the first one).
    next_scan_at timestamptz,
    current_scan_id public.uint256,
    current_scan_executed_at timestamptz,
    last_scan_finalized_at timestamptz,
    scans_finalized integer NOT NULL,
    traced_count integer NOT NULL,
    emissions_total public.uint256 NOT NULL,
    burned_total public.uint256 NOT NULL,
    distributed_total public.uint256 NOT NULL,
    last_seq bigint NOT NULL
  );
  EXECUTE $seed$
    INSERT INTO level_stats
    SELECT level, 0, 0, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0 FROM public.level_config
  $seed$;

  CREATE TABLE network_state (
    id boolean PRIMARY KEY CHECK (id),
    operators_ath integer NOT NULL,
    last_block_number bigint,
    last_block_at timestamptz,
    last_reset_at timestamptz,
    resets integer NOT NULL,
    last_seq bigint NOT NULL
  );
  EXECUTE $seed$ INSERT INTO network_state VALUES (true, 0, NULL, NULL, NULL, 0, 0) $seed$;

  -- Per-minute totals (block time) behind NetworkState.hourlyStats and burnRatePerHour.
  CREATE TABLE network_minutes (
    minute timestamptz PRIMARY KEY,
    jacked_in public.uint256 NOT NULL,
    extracted public.uint256 NOT NULL,
    traced public.uint256 NOT NULL,
    burned public.uint256 NOT NULL
  );
END $$;
