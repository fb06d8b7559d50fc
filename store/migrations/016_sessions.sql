-- The web UI's sessions: the cookie holds a random id (only its hash is
-- kept), never the API token it was opened with.
CREATE TABLE sessions (
  id_hash    text PRIMARY KEY,
  token_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
