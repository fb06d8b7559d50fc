-- GitHub App mode (per repository): stages become check runs.
ALTER TABLE repos ADD COLUMN app_id text;
ALTER TABLE repos ADD COLUMN app_key text;
-- The forge's own id of what a report created (a check run), to update it later.
ALTER TABLE status_reports ADD COLUMN external_id text;
