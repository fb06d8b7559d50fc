-- Archives (artifacts, caches) move out of their rows into a blob store
-- (docs/operations.md, "Blob store"): the rows name a key; the bytes are in
-- `blob_chunks` (the default store) or in S3. Chunks of 1 MiB let a blob be
-- written and read a piece at a time, and lift bytea's 1 GiB bound.
CREATE TABLE blob_chunks (
  key  text NOT NULL,
  seq  integer NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (key, seq)
);
-- Archives are gzip already: compressing them again only costs time.
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

ALTER TABLE artifacts ADD COLUMN blob text;
ALTER TABLE caches ADD COLUMN blob text;

-- What is already kept moves into the default store, one chunk each.
UPDATE artifacts SET blob = 'artifacts/' || run_id || '/' || md5(stage) || '-' || attempt;
INSERT INTO blob_chunks (key, seq, data) SELECT blob, 0, archive FROM artifacts;
UPDATE caches SET blob = 'caches/' || md5(repo_id || E'\n' || branch || E'\n' || key);
INSERT INTO blob_chunks (key, seq, data) SELECT blob, 0, archive FROM caches;

ALTER TABLE artifacts DROP COLUMN archive, ALTER COLUMN blob SET NOT NULL;
ALTER TABLE caches DROP COLUMN archive, ALTER COLUMN blob SET NOT NULL;

-- A row that goes takes its chunks with it, however it goes (a prune, a
-- cache evicted, a repository deleted): the default store leaves nothing
-- behind. Another store is told by the code that deletes (store/blobs/).
CREATE FUNCTION drop_blob_chunks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM blob_chunks WHERE key = OLD.blob;
  ELSIF OLD.blob IS DISTINCT FROM NEW.blob THEN
    DELETE FROM blob_chunks WHERE key = OLD.blob;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER artifacts_drop_blob AFTER DELETE OR UPDATE OF blob ON artifacts FOR EACH ROW EXECUTE FUNCTION drop_blob_chunks();
CREATE TRIGGER caches_drop_blob AFTER DELETE OR UPDATE OF blob ON caches FOR EACH ROW EXECUTE FUNCTION drop_blob_chunks();
