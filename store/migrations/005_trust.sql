-- Named API credentials; only a hash of the secret is kept.
CREATE TABLE tokens (
  name       text PRIMARY KEY,
  role       text NOT NULL CHECK (role IN ('read', 'write', 'approve', 'admin')),
  hash       text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);

-- Repository secrets (environment '') and environment secrets, encrypted at rest.
CREATE TABLE secrets (
  repo_id     text NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
  environment text NOT NULL DEFAULT '',
  name        text NOT NULL,
  value       text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repo_id, environment, name)
);

-- Protection lives on the server: a pipeline file can add to it, never remove it.
CREATE TABLE environments (
  repo_id    text NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
  name       text NOT NULL,
  branches   text[],
  approval   boolean NOT NULL DEFAULT false,
  approvers  text[],
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repo_id, name)
);

-- One stage per environment at a time, across all runs and workers.
CREATE TABLE environment_locks (
  repo_id     text NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
  environment text NOT NULL,
  run_id      bigint NOT NULL,
  stage       text NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repo_id, environment)
);

CREATE TABLE deployments (
  id          bigserial PRIMARY KEY,
  repo_id     text NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
  environment text NOT NULL,
  run_id      bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  stage       text NOT NULL,
  attempt     int NOT NULL,
  sha         text NOT NULL,
  status      text NOT NULL,
  approved_by text,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  UNIQUE (run_id, stage, attempt)
);
CREATE INDEX deployments_env ON deployments (repo_id, environment, id DESC);

CREATE TABLE artifacts (
  run_id     bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  stage      text NOT NULL,
  attempt    int NOT NULL,
  archive    bytea NOT NULL,
  files      text[] NOT NULL,
  bytes      bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, stage)
);
