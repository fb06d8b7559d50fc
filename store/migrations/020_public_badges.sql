-- A repository may let anyone read its pipelines' badges (README images are
-- fetched without a token) while its runs stay behind one.
ALTER TABLE repos ADD COLUMN public_badges boolean NOT NULL DEFAULT false;

-- A pipeline's runs per branch, newest first: badges and the pipeline page.
CREATE INDEX runs_pipeline_branch ON runs (repo_id, pipeline, (event->>'branch'), id DESC);

-- The runs list follows changes: the newest change is one index read.
CREATE INDEX runs_updated ON runs (updated_at DESC);
