-- Realtime wakes are sent after commit by the writing node (docs/realtime.md, "Across nodes: the bus"),
-- no longer from inside the writing transaction by V11's triggers.
--
-- Why: PostgreSQL holds a cluster-wide lock from the pre-commit of a transaction that called NOTIFY until
-- its commit record is flushed, so every message insert flushed its WAL alone (no group commit): the
-- sendMessage transaction did 2.3-3.2x more in pgbench without the trigger (docs/BENCHMARKS.md). The node
-- now queues the wake after its commit and one sender per node sends the queued wakes, coalesced, in a
-- transaction with synchronous_commit = off on its own connection. A wake lost to a crash between the
-- commit and the send is found by the periodic catch-up (V11's indexes stay).
DROP TRIGGER IF EXISTS messages_wake ON messages;
DROP TRIGGER IF EXISTS convo_events_wake ON convo_events;
DROP TRIGGER IF EXISTS convos_wake ON convos;
DROP FUNCTION IF EXISTS mlsds_wake_message();
DROP FUNCTION IF EXISTS mlsds_wake_convo_event();
DROP FUNCTION IF EXISTS mlsds_wake_convo();
