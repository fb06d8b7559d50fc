-- When the forge should next be told a run's state: set whenever the run's
-- state changes, cleared once a report posted every context of that state,
-- moved forward when the forge asks to wait. The monitor pass resends the
-- report of a finished run still due long after it finished (its report job
-- failed every retry or is held by a process that died). Existing runs were
-- reported by the jobs of their time: they start cleared.
ALTER TABLE runs ADD COLUMN report_due timestamptz;
ALTER TABLE runs ALTER COLUMN report_due SET DEFAULT now();
CREATE INDEX runs_report_due ON runs (report_due) WHERE report_due IS NOT NULL;
