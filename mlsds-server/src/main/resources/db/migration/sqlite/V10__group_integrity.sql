-- Group integrity (docs/conversations.md, "Policed membership", "Group reset", "Roles").
--
-- convos.handshake_policy: 'public' (commits and proposals must be PublicMessages, so the server polices
-- every membership change) or 'any' (encrypted handshakes allowed; only what is visible is checked).
-- convos.roster_epoch: the epoch for which convo_leaves is exact (NULL: the server does not know the
-- tree, e.g. after an encrypted commit under 'any').
-- convos.group_id: the MLS group the conversation currently runs on (NULL: its id; set by a reset).
-- convos.reset_seq: seq of the last reset's commit (0: never reset); commits of the current group follow it.
ALTER TABLE convos ADD COLUMN handshake_policy TEXT NOT NULL DEFAULT 'any';
ALTER TABLE convos ADD COLUMN roster_epoch BIGINT;
ALTER TABLE convos ADD COLUMN group_id TEXT;
ALTER TABLE convos ADD COLUMN reset_seq BIGINT NOT NULL DEFAULT 0;

-- Leaf index -> DID (and signature key when seen) of the current group's tree, as the server derived it
-- from the commits it accepted (creator at leaf 0, Adds, Removes, UpdatePaths, external joins).
CREATE TABLE convo_leaves (
  convo_id      TEXT   NOT NULL,
  leaf_index    BIGINT NOT NULL,
  did           TEXT   NOT NULL,
  signature_key BLOB,
  PRIMARY KEY (convo_id, leaf_index)
);

-- PublicMessage proposals accepted through sendMessage, by ProposalRef, so a commit's references can be
-- resolved and policed. Only the current epoch's are useful; older ones are deleted as epochs move.
CREATE TABLE convo_proposals (
  convo_id    TEXT   NOT NULL,
  ref         TEXT   NOT NULL,
  epoch       BIGINT NOT NULL,
  sender_did  TEXT   NOT NULL,
  sender_leaf BIGINT NOT NULL,
  proposal    BLOB  NOT NULL,
  PRIMARY KEY (convo_id, ref)
);

-- reportUnprocessableCommit: who could not process which commit (by seq), so admins see the offender.
CREATE TABLE commit_reports (
  convo_id     TEXT   NOT NULL,
  seq          BIGINT NOT NULL,
  reporter_did TEXT   NOT NULL,
  reason       TEXT,
  created_at   BIGINT NOT NULL,
  PRIMARY KEY (convo_id, seq, reporter_did)
);
