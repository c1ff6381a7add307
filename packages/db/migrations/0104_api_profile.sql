-- GET /users/:address in one call: the player's totals and live position from the projector's live views, and
-- their crew. PL/pgSQL caches the statement's plan per connection: planning this five-way join cost ten times
-- its execution, and this is the API's busiest read. (A generation switch replaces the live views; cached
-- plans are invalidated by that DDL and rebuilt.)
CREATE FUNCTION api_profile(p_address text)
RETURNS TABLE (
  first_seen_at timestamptz,
  positions_count integer,
  total_staked numeric,
  total_extracted numeric,
  total_principal_extracted numeric,
  total_lost numeric,
  ghost_streak_best integer,
  position_id text,
  level text,
  amount numeric,
  entry_at timestamptz,
  ghost_streak integer,
  next_scan_at timestamptz,
  crew_id uuid,
  crew_name text,
  crew_tag text,
  role text,
  joined_at timestamptz
)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN QUERY
    SELECT u.first_seen_at, u.positions_count, u.total_staked::numeric, u.total_extracted::numeric,
           u.total_principal_extracted::numeric, u.total_lost::numeric, u.ghost_streak_best,
           p.id, p.level::text, p.amount::numeric, p.entry_at, p.ghost_streak, s.next_scan_at,
           m.crew_id, c.name, c.tag, m.role, m.joined_at
    FROM (SELECT p_address AS address) a
    LEFT JOIN live.users u ON u.address = a.address
    LEFT JOIN live.positions p ON p.address = a.address AND p.status = 'active'
    LEFT JOIN live.level_stats s ON s.level = p.level
    LEFT JOIN api_crew_members m ON m.address = a.address
    LEFT JOIN api_crews c ON c.id = m.crew_id;
END $$;
