-- Retention keeps at most N cursor bases per DID (docs/limits.md, M7): find a DID's rows newest first.
CREATE INDEX stream_cursors_by_did ON stream_cursors (did, created_at);
