-- An environment's lock names the attempt that holds it and, once a worker
-- claimed that attempt, the worker. A deployment canceled while running keeps
-- the lock until its worker has killed the step, or is found lost: the next
-- deployment never starts beside a step that is still dying.
ALTER TABLE environment_locks ADD COLUMN attempt int, ADD COLUMN worker text, ADD COLUMN claimed_at timestamptz;
UPDATE environment_locks l SET attempt = s.attempt FROM stages s WHERE s.run_id = l.run_id AND s.name = l.stage;
UPDATE environment_locks SET attempt = 1 WHERE attempt IS NULL;
ALTER TABLE environment_locks ALTER COLUMN attempt SET NOT NULL;
