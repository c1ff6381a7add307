-- The inverse of ms_to_ts, for rows a projection reads back as JSON (one round trip for several tables),
-- where the pool's timestamptz parser does not apply. SQL and immutable, so the planner inlines it.
CREATE FUNCTION ts_to_ms(timestamptz) RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  RETURN (extract(epoch FROM $1) * 1000)::bigint;
