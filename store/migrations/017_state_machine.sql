-- The run state machine, enforced where the states live: known statuses
-- only, and a stage changes status only along store/stage-transitions.ts
-- (written into stage_transitions by every migrate, under its lock).
ALTER TABLE runs ADD CONSTRAINT runs_status_known
  CHECK (status IN ('queued', 'waiting', 'running', 'success', 'failure', 'canceled', 'skipped'));
ALTER TABLE stages ADD CONSTRAINT stages_status_known
  CHECK (status IN ('queued', 'waiting', 'running', 'success', 'failure', 'canceled', 'skipped'));
ALTER TABLE stages ADD CONSTRAINT stages_waiting_for_known
  CHECK (waiting_for IS NULL OR waiting_for IN ('approval', 'lock', 'group', 'labels', 'fork'));

CREATE TABLE stage_transitions (
  from_status text NOT NULL,
  to_status   text NOT NULL,
  PRIMARY KEY (from_status, to_status)
);

CREATE FUNCTION forgeline_stage_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM stage_transitions WHERE from_status = OLD.status AND to_status = NEW.status) THEN
    RAISE EXCEPTION 'stage % of run % cannot go from % to %', NEW.name, NEW.run_id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER stage_transition BEFORE UPDATE OF status ON stages
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION forgeline_stage_transition();
