-- Typing mini-game. A challenge is issued by the server to one player and answered once; every answer is kept
-- (valid or not) for the hourly game limit and replay checks; a signed boost's nonce is unique here as it is
-- in GhostCore's global nonce set.
CREATE TABLE api_typing_challenges (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  address text NOT NULL CHECK (address ~ '^0x[0-9a-f]{40}$'),
  command text NOT NULL,
  issued_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  answered_at timestamptz
);
CREATE INDEX api_typing_challenges_address ON api_typing_challenges (address, issued_at);

CREATE TABLE api_typing_results (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  challenge_id uuid NOT NULL UNIQUE REFERENCES api_typing_challenges (id),
  address text NOT NULL CHECK (address ~ '^0x[0-9a-f]{40}$'),
  accuracy double precision NOT NULL,
  wpm double precision NOT NULL,
  duration_ms double precision NOT NULL,
  client_timestamp bigint NOT NULL,
  valid boolean NOT NULL,
  reason text,
  boost_type smallint,
  value_bps integer,
  expiry bigint,
  nonce text UNIQUE CHECK (nonce ~ '^0x[0-9a-f]{64}$'),
  signature text,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Facts file: no replay of (user, timestamp).
  UNIQUE (address, client_timestamp)
);
CREATE INDEX api_typing_results_recent ON api_typing_results (address, created_at);
