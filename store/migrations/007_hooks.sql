-- The forge's id of the webhook Forgeline registered, and when missed
-- deliveries were last looked for (SPEC.md §6.3, §6.4).
ALTER TABLE repos ADD COLUMN remote_hook_id text;
ALTER TABLE repos ADD COLUMN recovered_at timestamptz;
