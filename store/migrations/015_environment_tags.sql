-- Tags that may deploy to an environment, apart from its branches: a tag
-- named like a protected branch (`main`) is not that branch.
ALTER TABLE environments ADD COLUMN tags text[];
