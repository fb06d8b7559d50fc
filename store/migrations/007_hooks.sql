-- The forge's id of the webhook Forgeline registered, and when missed
-- deliveries were last looked for (docs/forges.md).
ALTER TABLE repos ADD COLUMN remote_hook_id text;
ALTER TABLE repos ADD COLUMN recovered_at timestamptz;
