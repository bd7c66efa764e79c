-- PostgreSQL's V14 drops its NOTIFY triggers (realtime wakes are sent after commit by the writing node).
-- One SQLite node wakes its streams in process and had no triggers: nothing to do; this migration keeps
-- both backends at the same schema version.
SELECT 1;
