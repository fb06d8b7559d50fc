-- The attempt a stage's latest run or rerun began at: `retries` counts the
-- attempts after it, so a rerun stage is retried as a first run is.
ALTER TABLE stages ADD COLUMN first_attempt int NOT NULL DEFAULT 1;
