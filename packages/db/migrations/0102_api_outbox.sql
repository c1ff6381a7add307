-- Transactional outbox: app events (crew changes, mini-game results) are written here in the same transaction
-- as the change they describe, then published to JetStream with Nats-Msg-Id = envelope id and marked sent.
-- The envelope is stored whole so that a re-publish is byte-identical and deduplicated by the stream.
CREATE TABLE api_outbox (
  id bigserial PRIMARY KEY,
  envelope_id text NOT NULL UNIQUE,
  event_name text NOT NULL,
  envelope jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  last_attempt_at timestamptz,
  published_at timestamptz,
  stream_sequence bigint
);
CREATE INDEX api_outbox_pending ON api_outbox (id) WHERE published_at IS NULL;
