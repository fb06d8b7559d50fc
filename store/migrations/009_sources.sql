-- Generic webhook sources (docs/api.md, "Hooks"): a helpdesk, a payment provider, a
-- storage service… each with its own hook, auth and where its event type and
-- delivery id come from.
CREATE TABLE sources (
  id               text PRIMARY KEY,
  repo_id          text NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
  name             text NOT NULL,
  auth             text NOT NULL CHECK (auth IN ('hmac', 'standard-webhooks', 'bearer')),
  signature_header text,
  type_from        text,
  id_from          text,
  hook_id          text NOT NULL UNIQUE,
  allow_cidrs      text[],
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (repo_id, name)
);

CREATE TABLE source_secrets (
  id         bigserial PRIMARY KEY,
  source_id  text NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
  secret     text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz
);

-- Hooks of a repository may be limited to source addresses.
ALTER TABLE repos ADD COLUMN allow_cidrs text[];
