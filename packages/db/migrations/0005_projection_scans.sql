-- Projection `scans`, code version 1: every trace scan and its victims.
-- Called by the projector with search_path = <generation schema>, public.
CREATE FUNCTION projection_ddl_scans_v1() RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  CREATE TABLE scans (
    scan_id public.uint256 PRIMARY KEY,
    level public.level_name NOT NULL,
    status text NOT NULL CHECK (status IN ('executed', 'finalized')),
    seed public.uint256 NOT NULL,
    executed_at timestamptz NOT NULL,
    executed_seq bigint NOT NULL,
    -- Victims named so far by DeathsSubmitted (one per submitDeaths batch).
    victims integer NOT NULL,
    death_count integer,
    total_dead public.uint256,
    survivors integer,
    finalized_at timestamptz,
    finalized_seq bigint,
    -- CascadeDistributed of the finalize transaction (NULL when nobody died).
    cascade_same_level public.uint256,
    cascade_upstream public.uint256,
    cascade_burned public.uint256,
    cascade_protocol public.uint256
  );
  CREATE INDEX scans_level ON scans (level, scan_id DESC);

  CREATE TABLE scan_victims (
    scan_id public.uint256 NOT NULL,
    address public.eth_address NOT NULL,
    level public.level_name NOT NULL,
    amount_lost public.uint256 NOT NULL,
    sequence bigint NOT NULL,
    tx_hash text NOT NULL,
    submitter public.eth_address NOT NULL,
    at timestamptz NOT NULL,
    PRIMARY KEY (scan_id, address)
  );
  CREATE INDEX scan_victims_address ON scan_victims (address);
END $$;
