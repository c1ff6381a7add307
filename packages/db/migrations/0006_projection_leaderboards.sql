-- Projection `leaderboards`, code version 1: per-player aggregates per UTC day, ISO week (UTC) and all time.
--   extracted: rewards extracted; streak: best ghost streak reached; pnl: rewards minus principal lost
--   (traced, culled, reset penalty). *_seq: the sequence at which the value was reached, the tie-break
--   (earliest first).
-- Called by the projector with search_path = <generation schema>, public.
CREATE FUNCTION projection_ddl_leaderboards_v1() RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  -- Private state: each player's current position as far as the aggregates need it.
  CREATE TABLE _members (
    address public.eth_address PRIMARY KEY,
    level public.level_name NOT NULL,
    amount public.uint256 NOT NULL,
    alive boolean NOT NULL,
    streak integer NOT NULL
  );
  CREATE INDEX _members_alive ON _members (level) WHERE alive;

  CREATE TABLE leaderboard_daily (
    day date NOT NULL,
    address public.eth_address NOT NULL,
    extracted public.uint256 NOT NULL,
    extracted_seq bigint,
    streak integer NOT NULL,
    streak_seq bigint,
    pnl numeric(78, 0) NOT NULL,
    pnl_seq bigint,
    PRIMARY KEY (day, address)
  );
  CREATE INDEX leaderboard_daily_extracted ON leaderboard_daily (day, extracted DESC, extracted_seq);
  CREATE INDEX leaderboard_daily_streak ON leaderboard_daily (day, streak DESC, streak_seq);
  CREATE INDEX leaderboard_daily_pnl ON leaderboard_daily (day, pnl DESC, pnl_seq);

  CREATE TABLE leaderboard_weekly (
    week date NOT NULL,
    address public.eth_address NOT NULL,
    extracted public.uint256 NOT NULL,
    extracted_seq bigint,
    streak integer NOT NULL,
    streak_seq bigint,
    pnl numeric(78, 0) NOT NULL,
    pnl_seq bigint,
    PRIMARY KEY (week, address)
  );
  CREATE INDEX leaderboard_weekly_extracted ON leaderboard_weekly (week, extracted DESC, extracted_seq);
  CREATE INDEX leaderboard_weekly_streak ON leaderboard_weekly (week, streak DESC, streak_seq);
  CREATE INDEX leaderboard_weekly_pnl ON leaderboard_weekly (week, pnl DESC, pnl_seq);

  CREATE TABLE leaderboard_all (
    address public.eth_address PRIMARY KEY,
    extracted public.uint256 NOT NULL,
    extracted_seq bigint,
    streak integer NOT NULL,
    streak_seq bigint,
    pnl numeric(78, 0) NOT NULL,
    pnl_seq bigint
  );
  CREATE INDEX leaderboard_all_extracted ON leaderboard_all (extracted DESC, extracted_seq);
  CREATE INDEX leaderboard_all_streak ON leaderboard_all (streak DESC, streak_seq);
  CREATE INDEX leaderboard_all_pnl ON leaderboard_all (pnl DESC, pnl_seq);
END $$;
