-- Realtime (API.md §7): the server-side records behind the all-conversations stream's cursor, and the
-- single-use WebSocket tickets. Both must work across nodes, so they live in the database.
--
-- stream_cursors: one immutable row per cursor base, written by the node serving the stream. positions is
-- a JSON array of [convoId, "seq" | "seq.idx"] pairs sorted by convoId; the cursor "<id>~<i>:<pos>,…" is
-- this record with entry i moved to pos (docs/realtime.md). Rows past the retention are deleted, and a
-- cursor naming a deleted row is refused (the client resyncs with getMessages).
CREATE TABLE stream_cursors (
  id         TEXT   PRIMARY KEY,
  did        TEXT   NOT NULL,
  positions  TEXT   NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX stream_cursors_by_age ON stream_cursors (created_at);

-- Only the SHA-256 of a ticket is stored. Redeeming deletes the row: of several redeemers, on any nodes,
-- exactly one deletes it and gets the DID.
CREATE TABLE stream_tickets (
  ticket_hash TEXT   PRIMARY KEY,
  did         TEXT   NOT NULL,
  expires_at  BIGINT NOT NULL
);
CREATE INDEX stream_tickets_by_expiry ON stream_tickets (expires_at);
