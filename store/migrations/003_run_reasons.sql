-- A run that could not start (an invalid pipeline file, a failing `if`) or a
-- pull request pipeline whose filters rejected the event still reports on its
-- context: the run says why, and lists the file's problems.
ALTER TABLE runs ADD COLUMN reason text;
ALTER TABLE runs ADD COLUMN problems jsonb NOT NULL DEFAULT '[]';
