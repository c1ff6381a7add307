-- api_profile for several players in one call. Under load the API batches the profile reads that arrive while
-- its previous ones are in flight (read/batcher.ts): one round trip, one protocol exchange and one
-- plan execution per batch instead of per request. Same joins as api_profile (0106); `player` names the row.
-- api_profile stays: API instances of the previous version call it during a rolling update.
CREATE FUNCTION api_profiles(p_addresses text[])
RETURNS TABLE (
  player text,
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
  earned numeric,
  boosts json,
  crew_id uuid,
  crew_name text,
  crew_tag text,
  role text,
  joined_at timestamptz
)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN QUERY
    SELECT a.address, u.first_seen_at, u.positions_count, u.total_staked::numeric, u.total_extracted::numeric,
           u.total_principal_extracted::numeric, u.total_lost::numeric, u.ghost_streak_best,
           p.id, p.level::text, p.amount::numeric, p.entry_at, p.ghost_streak, s.next_scan_at,
           -- GhostCore._pending: stored + max(amount × acc / 1e18 − debt, 0)
           (p.stored_rewards + GREATEST(div(p.amount * s.acc_rewards_per_share, 1000000000000000000)
             - p.reward_debt, 0))::numeric,
           -- GhostCore.getActiveBoosts at the chain time of the last projected block.
           CASE WHEN p.id IS NULL THEN NULL ELSE COALESCE((
             SELECT json_agg(json_build_object(
               'type', b.boost_type, 'valueBps', b.value_bps,
               'expiresAt', (extract(epoch FROM b.expires_at) * 1000)::bigint) ORDER BY b.sequence)
             FROM live.boosts b, live.network_state n
             WHERE b.address = a.address AND b.removed_seq IS NULL AND b.expires_at > n.last_block_at
           ), '[]'::json) END,
           m.crew_id, c.name, c.tag, m.role, m.joined_at
    FROM (SELECT DISTINCT x AS address FROM unnest(p_addresses) AS x) a
    LEFT JOIN live.users u ON u.address = a.address
    LEFT JOIN live.positions p ON p.address = a.address AND p.status = 'active'
    LEFT JOIN live.level_stats s ON s.level = p.level
    LEFT JOIN api_crew_members m ON m.address = a.address
    LEFT JOIN api_crews c ON c.id = m.crew_id;
END $$;
