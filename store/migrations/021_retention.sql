-- Retention (FORGELINE_RETENTION_DAYS, `forgeline prune`): old deliveries go,
-- and old runs lose their logs and artifacts but keep their summary (the run,
-- its stages, their attempts and steps); pruned_at says when, so a log that
-- is gone says why.
ALTER TABLE runs ADD COLUMN pruned_at timestamptz;
CREATE INDEX deliveries_received ON deliveries (received_at);
CREATE INDEX runs_unpruned_created ON runs (created_at) WHERE pruned_at IS NULL;
