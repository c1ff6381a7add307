-- Runtime of the projector (packages/projections): generations of each projection, the undo log that lets a
-- projection take back orphaned events after a reorg, and the `live` schema of views readers use.
--
-- Each projection generation keeps its tables in a schema of its own, `<projection>_v<version>`, created by the
-- projection's DDL function (0003…); `live.<table>` views point at the active generation and are replaced in the
-- same transaction that activates a new one.

CREATE DOMAIN eth_address AS text CHECK (VALUE ~ '^0x[0-9a-f]{40}$');
CREATE DOMAIN uint256 AS numeric(78, 0) CHECK (VALUE >= 0);
CREATE DOMAIN level_name AS text CHECK (VALUE IN ('VAULT', 'MAINFRAME', 'SUBNET', 'DARKNET', 'BLACK_ICE'));

-- Unix ms → timestamptz, exact to the millisecond (numeric division, then a double with µs resolution).
CREATE FUNCTION ms_to_ts(bigint) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT to_timestamp($1 / 1000.0) $$;

-- The level table of the deployed contracts (facts file). Reference data, not a projection.
CREATE TABLE level_config (
  level level_name PRIMARY KEY,
  level_index smallint NOT NULL UNIQUE,
  base_death_rate_bps integer NOT NULL,
  scan_interval_seconds integer NOT NULL,
  min_stake uint256 NOT NULL,
  max_positions integer NOT NULL
);
INSERT INTO level_config VALUES
  ('VAULT', 1, 500, 14400, 10000000000000000000, 5000),
  ('MAINFRAME', 2, 1500, 10800, 25000000000000000000, 3000),
  ('SUBNET', 3, 2500, 7200, 50000000000000000000, 1500),
  ('DARKNET', 4, 3500, 3600, 100000000000000000000, 500),
  ('BLACK_ICE', 5, 4500, 1800, 250000000000000000000, 100);

-- One row per generation. `active`: what readers see (at most one per projection); `building`: a rebuild
-- catching up beside it; `retired`: replaced, dropped after a grace period.
CREATE TABLE projection_versions (
  projection text NOT NULL,
  version integer NOT NULL,
  code_version integer NOT NULL,
  schema_name text NOT NULL UNIQUE,
  status text NOT NULL CHECK (status IN ('active', 'building', 'retired')),
  created_at timestamptz NOT NULL DEFAULT now(),
  activated_at timestamptz,
  retired_at timestamptz,
  -- A poison message stops the generation; it stays stopped (never skips) until an operator acts.
  failed_sequence bigint,
  failed_error text,
  failed_at timestamptz,
  PRIMARY KEY (projection, version)
);
CREATE UNIQUE INDEX projection_versions_one_active ON projection_versions (projection) WHERE status = 'active';
CREATE UNIQUE INDEX projection_versions_one_building ON projection_versions (projection) WHERE status = 'building';

-- Sequences named by reorg notices: never applied again by that generation.
CREATE TABLE projection_orphans (
  projection text NOT NULL,
  version integer NOT NULL,
  sequence bigint NOT NULL,
  notice_sequence bigint NOT NULL,
  PRIMARY KEY (projection, version, sequence)
);

-- Batches whose row changes were captured in projection_undo (only near the stream's head; older history
-- falls back to a rebuild of the generation, see packages/projections/README.md).
CREATE TABLE projection_undo_batches (
  projection text NOT NULL,
  version integer NOT NULL,
  first_seq bigint NOT NULL,
  last_seq bigint NOT NULL,
  PRIMARY KEY (projection, version, first_seq)
);

CREATE TABLE projection_undo (
  id bigserial PRIMARY KEY,
  projection text NOT NULL,
  version integer NOT NULL,
  batch_first bigint NOT NULL,
  tbl regclass NOT NULL,
  op char(1) NOT NULL CHECK (op IN ('I', 'U', 'D')),
  old_row jsonb,
  new_row jsonb
);
CREATE INDEX projection_undo_batch ON projection_undo (projection, version, batch_first);

-- Row trigger body: records the row image needed to take the change back. The runner enables capture per
-- transaction with set_config('ghostnet.undo', '<projection>|<version>|<batch first sequence>', true).
CREATE FUNCTION projection_undo_capture() RETURNS trigger
  LANGUAGE plpgsql AS $$
DECLARE
  ctx text := current_setting('ghostnet.undo', true);
BEGIN
  INSERT INTO public.projection_undo (projection, version, batch_first, tbl, op, old_row, new_row)
  VALUES (
    split_part(ctx, '|', 1),
    split_part(ctx, '|', 2)::integer,
    split_part(ctx, '|', 3)::bigint,
    TG_RELID::regclass,
    left(TG_OP, 1),
    CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
    CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END
  );
  RETURN NULL;
END $$;

-- Puts the capture trigger on every table of a generation's schema. The WHEN clause keeps the cost near zero
-- while capture is off (catch-up).
CREATE FUNCTION projection_install_undo(p_schema text) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT c.oid::regclass AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = p_schema AND c.relkind = 'r'
  LOOP
    EXECUTE format(
      'CREATE TRIGGER undo_capture AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW '
      'WHEN (coalesce(current_setting(''ghostnet.undo'', true), '''') <> '''') '
      'EXECUTE FUNCTION public.projection_undo_capture()',
      t.rel
    );
  END LOOP;
END $$;

-- Takes back, newest first, every captured change of the batches starting at or after p_from.
CREATE FUNCTION projection_undo_apply(p_projection text, p_version integer, p_from bigint) RETURNS integer
  LANGUAGE plpgsql AS $$
DECLARE
  r record;
  pk text;
  n integer := 0;
BEGIN
  FOR r IN
    SELECT u.tbl, u.op, u.old_row, u.new_row FROM public.projection_undo u
    WHERE u.projection = p_projection AND u.version = p_version AND u.batch_first >= p_from
    ORDER BY u.id DESC
  LOOP
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord) INTO pk
    FROM pg_index i
    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = r.tbl AND i.indisprimary;
    IF pk IS NULL THEN
      RAISE EXCEPTION 'table % has no primary key; undo needs one', r.tbl;
    END IF;
    IF r.op IN ('I', 'U') THEN
      EXECUTE format(
        'DELETE FROM %s WHERE (%s) = (SELECT %s FROM jsonb_populate_record(NULL::%s, $1))',
        r.tbl, pk, pk, r.tbl
      ) USING r.new_row;
    END IF;
    IF r.op IN ('U', 'D') THEN
      EXECUTE format('INSERT INTO %s SELECT * FROM jsonb_populate_record(NULL::%s, $1)', r.tbl, r.tbl)
        USING r.old_row;
    END IF;
    n := n + 1;
  END LOOP;
  DELETE FROM public.projection_undo
    WHERE projection = p_projection AND version = p_version AND batch_first >= p_from;
  DELETE FROM public.projection_undo_batches
    WHERE projection = p_projection AND version = p_version AND first_seq >= p_from;
  RETURN n;
END $$;

CREATE SCHEMA live;

-- Points live.<table> at the given generation's schema for each public table (names not starting with '_').
CREATE FUNCTION projection_publish_views(p_schema text) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = p_schema AND c.relkind = 'r' AND left(c.relname, 1) <> '_'
  LOOP
    EXECUTE format('DROP VIEW IF EXISTS live.%I', t.relname);
    EXECUTE format('CREATE VIEW live.%I AS SELECT * FROM %I.%I', t.relname, p_schema, t.relname);
  END LOOP;
END $$;
