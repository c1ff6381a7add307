-- SIWE nonces: issued by any API instance, consumed once by any instance (UPDATE … WHERE used_at IS NULL is the
-- single-use check), expired after a few minutes.
CREATE TABLE api_siwe_nonces (
  nonce text PRIMARY KEY CHECK (nonce ~ '^[A-Za-z0-9]{16,64}$'),
  issued_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX api_siwe_nonces_expires ON api_siwe_nonces (expires_at);

-- Session tokens ended by POST /auth/logout before their expiry (sha-256 of the token, never the token).
CREATE TABLE api_revoked_tokens (
  token_hash bytea PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
CREATE INDEX api_revoked_tokens_expires ON api_revoked_tokens (expires_at);
