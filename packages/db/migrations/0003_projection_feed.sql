-- Projection `feed`, code version 1: every chain and app event as appended (queryable history, recent feed).
-- Called by the projector with search_path = <generation schema>, public.
CREATE FUNCTION projection_ddl_feed_v1() RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  CREATE TABLE events (
    sequence bigint PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('chain', 'app')),
    name text NOT NULL,
    event_id text NOT NULL,
    block_number bigint,
    block_hash text,
    tx_hash text,
    log_index integer,
    -- The player the event is about (user, victim, …), for per-address history.
    address public.eth_address,
    level public.level_name,
    occurred_at timestamptz NOT NULL,
    -- Has a frontend FeedEvent (toFeedEvents is not empty).
    in_feed boolean NOT NULL,
    payload jsonb NOT NULL
  );
  CREATE INDEX events_feed ON events (sequence DESC) WHERE in_feed;
  CREATE INDEX events_address ON events (address, sequence DESC) WHERE address IS NOT NULL;
  CREATE INDEX events_name ON events (name, sequence DESC);
END $$;
