-- One row per (projection, version): the last stream sequence applied, written in the same transaction as the
-- projection's own writes, so tables and checkpoint can never disagree.
CREATE TABLE projection_checkpoints (
  projection text NOT NULL,
  version integer NOT NULL,
  stream_epoch text NOT NULL,
  last_sequence bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, version)
);
