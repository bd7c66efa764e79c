-- Results of procedures called with an idempotencyKey (API.md §1). status is NULL while the first call
-- is still running; keys are kept at least 24 h (see IdempotencyStore.purgeOlderThan).
CREATE TABLE idempotency_records (
  caller_did TEXT NOT NULL,
  nsid       TEXT NOT NULL,
  idem_key   TEXT NOT NULL,
  status     INTEGER,
  body       TEXT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (caller_did, nsid, idem_key)
);
CREATE INDEX idempotency_records_created ON idempotency_records (created_at);
