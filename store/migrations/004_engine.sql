-- Every process that runs stages, and when it was last heard from: a stage
-- whose worker went quiet for FORGELINE_HEARTBEAT_SECONDS is lost.
CREATE TABLE workers (
  id           text PRIMARY KEY,
  host         text NOT NULL,
  pid          int NOT NULL,
  labels       text[] NOT NULL DEFAULT '{}',
  concurrency  int NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  stopped_at   timestamptz
);

ALTER TABLE stages ADD COLUMN queued_at timestamptz NOT NULL DEFAULT now();
-- What a `waiting` stage waits for: approval, lock, fork, labels.
ALTER TABLE stages ADD COLUMN waiting_for text;
ALTER TABLE stages ADD COLUMN approved_by text;
CREATE INDEX stages_running_worker ON stages (worker) WHERE status = 'running';
CREATE INDEX stages_waiting ON stages (waiting_for, queued_at) WHERE status = 'waiting';

-- A run of a fork's pull request waits until a token with the approve role lets it go.
ALTER TABLE runs ADD COLUMN approved_by text;
ALTER TABLE runs ADD COLUMN concurrency_group text;
CREATE INDEX runs_group ON runs (repo_id, concurrency_group) WHERE concurrency_group IS NOT NULL;
