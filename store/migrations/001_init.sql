-- Repositories registered with Forgeline. Tokens and webhook secrets are
-- encrypted at rest (see store/secret-box.ts); hook_id is the random,
-- unguessable path segment of the repository's own hook.
CREATE TABLE repos (
  id             text PRIMARY KEY,
  forge          text NOT NULL,
  name           text NOT NULL,
  clone_url      text NOT NULL,
  api_url        text NOT NULL,
  token          text,
  hook_id        text NOT NULL UNIQUE,
  fork_prs       text NOT NULL DEFAULT 'approve',
  default_branch text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (forge, name)
);

-- Several secrets may be active at once, so that rotation never drops a delivery.
CREATE TABLE repo_secrets (
  id         bigserial PRIMARY KEY,
  repo_id    text NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
  secret     text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz
);
CREATE INDEX repo_secrets_active ON repo_secrets (repo_id) WHERE retired_at IS NULL;

CREATE TABLE deliveries (
  id                text PRIMARY KEY,
  hook              text NOT NULL,
  forge             text NOT NULL,
  repo_id           text REFERENCES repos (id) ON DELETE SET NULL,
  forge_delivery_id text NOT NULL,
  event_header      text,
  received_at       timestamptz NOT NULL DEFAULT now(),
  source_address    text,
  headers           jsonb NOT NULL,
  body              bytea NOT NULL,
  body_sha256       text NOT NULL,
  status            text NOT NULL,
  reason            text,
  events            jsonb NOT NULL DEFAULT '[]',
  explain           jsonb NOT NULL DEFAULT '[]'
);
-- One accepted delivery per forge delivery id: the second is stored as a duplicate.
CREATE UNIQUE INDEX deliveries_accepted_id ON deliveries (forge, forge_delivery_id) WHERE status = 'accepted';
CREATE INDEX deliveries_repo_received ON deliveries (repo_id, received_at DESC);

CREATE TABLE runs (
  id          bigserial PRIMARY KEY,
  repo_id     text NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
  delivery_id text REFERENCES deliveries (id) ON DELETE SET NULL,
  event_index int NOT NULL DEFAULT 0,
  pipeline    text NOT NULL,
  file        text NOT NULL,
  event       jsonb NOT NULL,
  sha         text NOT NULL,
  definition  jsonb NOT NULL,
  status      text NOT NULL,
  attempt     int NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  -- Planning the same delivery twice (a retried plan job) creates nothing new.
  UNIQUE (delivery_id, event_index, pipeline)
);
CREATE INDEX runs_repo_created ON runs (repo_id, id DESC);
CREATE INDEX runs_sha ON runs (sha);

CREATE TABLE stages (
  run_id      bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  name        text NOT NULL,
  position    int NOT NULL,
  needs       text[] NOT NULL DEFAULT '{}',
  status      text NOT NULL,
  reason      text,
  attempt     int NOT NULL DEFAULT 1,
  worker      text,
  started_at  timestamptz,
  finished_at timestamptz,
  PRIMARY KEY (run_id, name)
);

-- Log output in the order it was produced; one row per flushed chunk.
CREATE TABLE stage_logs (
  id      bigserial PRIMARY KEY,
  run_id  bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  stage   text NOT NULL,
  attempt int NOT NULL,
  chunk   text NOT NULL
);
CREATE INDEX stage_logs_stage ON stage_logs (run_id, stage, attempt, id);

-- The last state posted to the forge for each context, so that no state is
-- posted twice in a row and a report job knows what changed.
CREATE TABLE status_reports (
  repo_id     text NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
  sha         text NOT NULL,
  context     text NOT NULL,
  state       text NOT NULL,
  description text NOT NULL,
  run_id      bigint,
  posted_at   timestamptz NOT NULL DEFAULT now(),
  error       text,
  PRIMARY KEY (repo_id, sha, context)
);

-- Rejected requests and writes, never with a body or a secret.
CREATE TABLE audit_log (
  id             bigserial PRIMARY KEY,
  at             timestamptz NOT NULL DEFAULT now(),
  hook           text,
  source_address text,
  actor          text,
  action         text NOT NULL,
  reason         text
);
