-- Realtime catch-up (docs/realtime.md): the periodic safety net for a lost wake looks for recent membership
-- changes and new conversations by time. (One SQLite node wakes its streams in process; PostgreSQL's
-- V11 also adds the NOTIFY triggers.)
CREATE INDEX convo_events_membership_by_time ON convo_events (created_at) WHERE type = 'membershipEvent';
CREATE INDEX convos_by_created ON convos (created_at);
