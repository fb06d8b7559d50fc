-- The accepted deliveries not planned yet: the monitor pass looks for the
-- ones whose plan job was lost (fetched by a process killed or cut off from
-- the database). A delivery leaves the index once its explain trace is written.
CREATE INDEX deliveries_unplanned ON deliveries (received_at)
  WHERE status = 'accepted' AND explain = '[]' AND repo_id IS NOT NULL;
