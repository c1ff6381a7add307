-- Derived events (`derived.ScanSurvivors`: who survived each finalized scan, published by the projector from
-- the game projection). Called by the projector with search_path = <generation schema>, public.

-- Projection `game`, code version 3: version 2's tables, plus an index that finds a finalized scan's survivors
-- by its sequence. The survivors publisher reads them there a few times a second; without the index each
-- read would scan the whole history.
CREATE FUNCTION projection_ddl_game_v3() RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM projection_ddl_game_v2();
  CREATE INDEX position_history_survivors ON position_history (sequence) WHERE kind = 'SURVIVED';
END $$;

-- Projection `feed`, code version 2: derived events join the history and the recent feed.
CREATE FUNCTION projection_ddl_feed_v2() RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM projection_ddl_feed_v1();
  ALTER TABLE events DROP CONSTRAINT events_kind_check;
  ALTER TABLE events ADD CONSTRAINT events_kind_check CHECK (kind IN ('chain', 'app', 'derived'));
END $$;
