-- Logs are written as fast as steps print them: lz4 compresses a log chunk
-- several times faster than PostgreSQL's default pglz, at much the same
-- size. A server built without lz4 keeps pglz.
DO $$
BEGIN
  ALTER TABLE stage_logs ALTER COLUMN chunk SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
  RAISE NOTICE 'lz4 is not available: log chunks keep pglz';
END $$;
