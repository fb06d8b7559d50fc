-- A matrix instance may wait for a slot under its stage's max-parallel.
ALTER TABLE stages DROP CONSTRAINT stages_waiting_for_known;
ALTER TABLE stages ADD CONSTRAINT stages_waiting_for_known
  CHECK (waiting_for IS NULL OR waiting_for IN ('approval', 'lock', 'group', 'labels', 'fork', 'matrix'));

-- Caches (docs/pipelines.md, "Caches"): one archive per repository, branch and
-- effective key. The first of two concurrent saves wins (the primary key);
-- restores touch last_used_at, and the least recently used go first when a
-- repository's caches pass FORGELINE_CACHE_MAX_BYTES.
CREATE TABLE caches (
  repo_id      text NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
  branch       text NOT NULL,
  key          text NOT NULL,
  archive      bytea NOT NULL,
  bytes        bigint NOT NULL,
  files        integer NOT NULL,
  run_id       bigint,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repo_id, branch, key)
);
-- Prefix restores: the newest cache of a branch whose key starts with `<key>-`.
CREATE INDEX caches_prefix ON caches (repo_id, branch, key text_pattern_ops, created_at DESC);
CREATE INDEX caches_lru ON caches (repo_id, last_used_at);
