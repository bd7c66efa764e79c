-- Realtime wakes across nodes (docs/realtime.md, "Across nodes: the bus").
--
-- Every append to a conversation's log NOTIFYs the other nodes from inside the writing transaction.
-- PostgreSQL delivers a notification at commit and only if the transaction commits, so a committed write
-- always wakes the other nodes, a rolled-back one never does, and the writer needs no second connection
-- (before, NOTIFY ran after commit on another pooled connection: a crash in between, or a full pool, lost
-- the wake). Identical notifications of one transaction are delivered once.
--
-- Payloads, as PostgresBus reads them: '-|c|<convoId>' (the log grew, or the conversation was created) and
-- '-|m|<convoId>|<did>' (a membershipEvent: that user's streams pick the conversation up or drop it). '-'
-- names no node: the writer's own node is woken in process as well, and reads once more for nothing.
CREATE FUNCTION mlsds_wake_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mlsds_realtime', '-|c|' || NEW.convo_id);
  RETURN NULL;
END $$;

CREATE FUNCTION mlsds_wake_convo_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.type = 'membershipEvent' THEN
    PERFORM pg_notify('mlsds_realtime', '-|m|' || NEW.convo_id || '|' || COALESCE(NEW.payload::json ->> 'did', ''));
  END IF;
  PERFORM pg_notify('mlsds_realtime', '-|c|' || NEW.convo_id);
  RETURN NULL;
END $$;

CREATE FUNCTION mlsds_wake_convo() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mlsds_realtime', '-|c|' || NEW.id);
  RETURN NULL;
END $$;

CREATE TRIGGER messages_wake AFTER INSERT ON messages FOR EACH ROW EXECUTE FUNCTION mlsds_wake_message();
CREATE TRIGGER convo_events_wake AFTER INSERT ON convo_events FOR EACH ROW EXECUTE FUNCTION mlsds_wake_convo_event();
CREATE TRIGGER convos_wake AFTER INSERT ON convos FOR EACH ROW EXECUTE FUNCTION mlsds_wake_convo();

-- The periodic catch-up (the safety net for a wake lost anyway, e.g. while a node's LISTEN connection was
-- down) looks for recent membership changes and new conversations by time.
CREATE INDEX convo_events_membership_by_time ON convo_events (created_at) WHERE type = 'membershipEvent';
CREATE INDEX convos_by_created ON convos (created_at);
