-- What a fork's pull request changes in .forgeline/, shown to whoever approves it.
ALTER TABLE runs ADD COLUMN pipeline_diff text;
