-- Storage bounds (docs/limits.md, "Storage, quotas and retention").
--
-- welcome_blobs: a Welcome message is stored once per accepted commit bundle; the per-device deliveries in
-- welcomes point at it (before, every recipient device had its own copy of the same bytes). sender_did is
-- whose quota the bytes count against (NULL for Welcomes stored before this migration, never counted).
CREATE TABLE welcome_blobs (
  id         TEXT   PRIMARY KEY,
  convo_id   TEXT   NOT NULL REFERENCES convos (id),
  sender_did TEXT,
  data       BLOB   NOT NULL,
  created_at BIGINT NOT NULL
);
-- SQLite cannot add NOT NULL to an existing column; the store always sets blob_id.
ALTER TABLE welcomes ADD COLUMN blob_id TEXT REFERENCES welcome_blobs (id);
INSERT INTO welcome_blobs (id, convo_id, sender_did, data, created_at)
  SELECT 'v9:' || convo_id || ':' || key_package_ref, convo_id, NULL, data, created_at FROM welcomes;
UPDATE welcomes SET blob_id = 'v9:' || convo_id || ':' || key_package_ref;
ALTER TABLE welcomes DROP COLUMN data;
CREATE INDEX welcomes_by_blob ON welcomes (blob_id);
CREATE INDEX welcomes_by_state ON welcomes (state, created_at);

-- What each DID has stored (message bytes and rows, Welcome bytes), kept in the transactions that store
-- or purge them; checked against the per-user quotas. Starts from the messages already stored.
CREATE TABLE storage_usage (
  did      TEXT   PRIMARY KEY,
  bytes    BIGINT NOT NULL,
  messages BIGINT NOT NULL
);
INSERT INTO storage_usage (did, bytes, messages)
  SELECT sender_did, SUM(length(data)), COUNT(*) FROM messages GROUP BY sender_did;

CREATE INDEX convos_by_creator ON convos (creator_did, closed);
-- Retention: the oldest messages and events, and conversations closed long ago.
CREATE INDEX messages_by_age ON messages (created_at);
CREATE INDEX convo_events_by_age ON convo_events (created_at);
