-- Shared rate-limit counters: one row per (key, fixed window). Instances reserve quota from a row atomically
-- (a few requests at a time), so the limit holds across instances without a round trip per request. UNLOGGED:
-- counters need not survive a database crash, and skipping the WAL keeps the hot path cheap.
CREATE UNLOGGED TABLE api_rate_limits (
  bucket text NOT NULL,
  window_start bigint NOT NULL,
  used integer NOT NULL,
  last_grant integer NOT NULL,
  PRIMARY KEY (bucket, window_start)
);
CREATE INDEX api_rate_limits_window ON api_rate_limits (window_start);
