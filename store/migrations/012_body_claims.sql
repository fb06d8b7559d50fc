-- Same body for a repository within 30 days is a duplicate (docs/api.md, "Hooks"). The
-- first delivery of a body claims it here; a later one conflicts on the key
-- and is a duplicate, unless the claim is over 30 days old and is taken over.
-- Concurrent deliveries of one body settle on the key's lock. This replaces a
-- lookup of earlier deliveries by body under an advisory lock, whose plan
-- scanned every recent delivery (ingest slowed as the table grew).
CREATE TABLE body_claims (
  repo_id     text NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
  body_sha256 text NOT NULL,
  delivery_id text NOT NULL,
  claimed_at  timestamptz NOT NULL,
  PRIMARY KEY (repo_id, body_sha256)
);
INSERT INTO body_claims (repo_id, body_sha256, delivery_id, claimed_at)
SELECT DISTINCT ON (repo_id, body_sha256) repo_id, body_sha256, id, received_at FROM deliveries
WHERE status = 'accepted' AND repo_id IS NOT NULL AND received_at > now() - interval '30 days'
ORDER BY repo_id, body_sha256, received_at DESC;
DROP INDEX deliveries_body;
