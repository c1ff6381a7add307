-- Projection `crews`, code version 1: crew membership from the API's CrewEvent outbox messages, and the stats
-- the facts file ranks crews by (member count, total staked of alive members, weekly extracted rewards).
-- Called by the projector with search_path = <generation schema>, public.
CREATE FUNCTION projection_ddl_crews_v1() RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  -- Private state: each player's stake as far as crew totals need it.
  CREATE TABLE _players (
    address public.eth_address PRIMARY KEY,
    amount public.uint256 NOT NULL,
    alive boolean NOT NULL
  );

  CREATE TABLE crew_summary (
    crew_id text PRIMARY KEY,
    name text NOT NULL,
    member_count integer NOT NULL,
    created_seq bigint NOT NULL,
    dissolved_seq bigint
  );

  CREATE TABLE crew_roster (
    address public.eth_address PRIMARY KEY,
    crew_id text NOT NULL,
    joined_seq bigint NOT NULL
  );
  CREATE INDEX crew_roster_crew ON crew_roster (crew_id);

  -- Rewards extracted by members while members, per ISO week (UTC, Monday).
  CREATE TABLE crew_weekly (
    crew_id text NOT NULL,
    week date NOT NULL,
    extracted public.uint256 NOT NULL,
    PRIMARY KEY (crew_id, week)
  );
END $$;
