-- Every attempt of every stage, kept when it ends (docs/api.md, "Runs"):
-- a retry or a rerun starts a new attempt on the same stage row, and the
-- attempt it replaces stays readable here, with its log (stage_logs keeps
-- each attempt's). Written by the database itself, whoever ends an attempt
-- (a worker, the reaper, a cancel); a worker adds the steps it ran.
CREATE TABLE stage_attempts (
  run_id      bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  stage       text NOT NULL,
  attempt     int NOT NULL,
  status      text NOT NULL,
  reason      text,
  worker      text,
  started_at  timestamptz,
  finished_at timestamptz,
  -- [{"name", "startedAt", "finishedAt", "exitCode", "status"}], in order; null until a worker says.
  steps       jsonb,
  PRIMARY KEY (run_id, stage, attempt)
);

CREATE FUNCTION forgeline_stage_attempt_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.attempt = OLD.attempt AND NEW.status IN ('success', 'failure', 'canceled', 'skipped') AND OLD.status IS DISTINCT FROM NEW.status THEN
    INSERT INTO stage_attempts (run_id, stage, attempt, status, reason, worker, started_at, finished_at)
    VALUES (NEW.run_id, NEW.name, NEW.attempt, NEW.status, NEW.reason, NEW.worker, NEW.started_at, NEW.finished_at)
    ON CONFLICT (run_id, stage, attempt) DO UPDATE SET status = EXCLUDED.status, reason = EXCLUDED.reason, finished_at = EXCLUDED.finished_at;
  ELSIF NEW.attempt > OLD.attempt AND OLD.status = 'running' THEN
    -- A retry: the attempt that ran failed, and the new one says why.
    INSERT INTO stage_attempts (run_id, stage, attempt, status, reason, worker, started_at, finished_at)
    VALUES (OLD.run_id, OLD.name, OLD.attempt, 'failure', NEW.reason, OLD.worker, OLD.started_at, now())
    ON CONFLICT (run_id, stage, attempt) DO NOTHING;
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER stage_attempt_ended AFTER UPDATE OF status, attempt ON stages
  FOR EACH ROW EXECUTE FUNCTION forgeline_stage_attempt_ended();

-- The attempts that ended before this table existed.
INSERT INTO stage_attempts (run_id, stage, attempt, status, reason, worker, started_at, finished_at)
SELECT run_id, name, attempt, status, reason, worker, started_at, finished_at FROM stages
WHERE status IN ('success', 'failure', 'canceled', 'skipped');
