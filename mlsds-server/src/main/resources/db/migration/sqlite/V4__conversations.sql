-- Conversations, membership, the per-conversation message log, Welcomes and conversation events
-- (API.md §4-§7).
--
-- convos.epoch is the MLS epoch as read from accepted Commits (never from a client's claim); a Commit is
-- accepted by compare-and-set on it. convos.latest_seq allocates the gap-free per-conversation seq under
-- the conversation's row lock, in the same transaction that inserts the message.
CREATE TABLE convos (
  id               TEXT    PRIMARY KEY,          -- lowercase hex of the MLS group_id
  creator_did      TEXT    NOT NULL,
  cipher_suite     INTEGER NOT NULL,
  epoch            BIGINT  NOT NULL,
  latest_seq       BIGINT  NOT NULL DEFAULT 0,
  name             TEXT,
  description      TEXT,
  admin_only_adds  BOOLEAN NOT NULL DEFAULT 0,
  closed           BOOLEAN NOT NULL DEFAULT 0,
  group_info       BLOB,
  group_info_epoch BIGINT,
  created_at       BIGINT  NOT NULL,
  last_message_at  BIGINT
);

-- One row per (conversation, DID) ever a member. active = currently a member; joined_seq = the seq of the
-- Commit that (re)added them: they see only messages after it.
CREATE TABLE members (
  convo_id   TEXT    NOT NULL REFERENCES convos (id),
  did        TEXT    NOT NULL,
  role       TEXT    NOT NULL CHECK (role IN ('admin', 'member')),
  active     BOOLEAN NOT NULL,
  joined_at  BIGINT  NOT NULL,
  joined_seq BIGINT  NOT NULL,
  left_at    BIGINT,
  PRIMARY KEY (convo_id, did)
);
CREATE INDEX members_by_did ON members (did, active);

CREATE TABLE member_devices (
  convo_id  TEXT NOT NULL REFERENCES convos (id),
  did       TEXT NOT NULL,
  device_id TEXT NOT NULL,
  PRIMARY KEY (convo_id, did, device_id)
);

-- The log: application messages, proposals and commits, seq 1, 2, 3, ... per conversation.
CREATE TABLE messages (
  convo_id     TEXT    NOT NULL REFERENCES convos (id),
  seq          BIGINT  NOT NULL,
  id           TEXT    NOT NULL UNIQUE,
  sender_did   TEXT    NOT NULL,
  epoch        BIGINT  NOT NULL,
  content_type TEXT    NOT NULL CHECK (content_type IN ('application', 'proposal', 'commit')),
  data         BLOB   NOT NULL,
  msg_id       TEXT,
  created_at   BIGINT  NOT NULL,
  PRIMARY KEY (convo_id, seq),
  UNIQUE (convo_id, msg_id)
);
CREATE INDEX messages_commits ON messages (convo_id, content_type, epoch);

-- One Welcome delivery per referenced device. state: pending -> fetched -> consumed | failed;
-- unusable (its KeyPackage was deleted by a sync) | cancelled (the member was removed).
CREATE TABLE welcomes (
  convo_id         TEXT   NOT NULL REFERENCES convos (id),
  key_package_ref  TEXT   NOT NULL,
  did              TEXT   NOT NULL,
  device_id        TEXT   NOT NULL,
  data             BLOB  NOT NULL,
  state            TEXT   NOT NULL CHECK (state IN ('pending', 'fetched', 'consumed', 'failed', 'unusable', 'cancelled')),
  created_at       BIGINT NOT NULL,
  first_fetched_at BIGINT,
  confirmed_at     BIGINT,
  error_details    TEXT,
  PRIMARY KEY (convo_id, key_package_ref)
);
CREATE INDEX welcomes_by_recipient ON welcomes (did, convo_id, state);

-- Non-message conversation events (membership changes, welcomeEvent, readdRequestedEvent), positioned in
-- the log right after message `seq` (idx 1, 2, ... among events following the same message), so a stream
-- resumes exactly. recipient_did, when set, limits the event to that user's streams.
CREATE TABLE convo_events (
  convo_id      TEXT   NOT NULL REFERENCES convos (id),
  seq           BIGINT NOT NULL,
  idx           INTEGER NOT NULL,
  type          TEXT   NOT NULL,
  payload       TEXT   NOT NULL,
  recipient_did TEXT,
  created_at    BIGINT NOT NULL,
  PRIMARY KEY (convo_id, seq, idx)
);
