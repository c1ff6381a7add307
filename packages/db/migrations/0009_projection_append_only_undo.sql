-- Append-only projection tables (rows keyed by the stream sequence that wrote them, never updated) need no row
-- capture for reorgs: taking back the batches from sequence S is `DELETE … WHERE <sequence column> >= S`.
-- The capture trigger goes on every other table of the generation's schema.
CREATE FUNCTION projection_install_undo_except(p_schema text, p_skip text[]) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT c.oid::regclass AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = p_schema AND c.relkind = 'r' AND NOT (c.relname = ANY(p_skip))
  LOOP
    EXECUTE format(
      'CREATE TRIGGER undo_capture AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW '
      'WHEN (coalesce(current_setting(''ghostnet.undo'', true), '''') <> '''') '
      'EXECUTE FUNCTION public.projection_undo_capture()',
      t.rel
    );
  END LOOP;
END $$;
