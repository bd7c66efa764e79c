-- Public group state (docs/conversations.md, "What `public` verifies"). Under the public handshake policy the
-- server keeps, per conversation, the public state of the current MLS group at its current epoch: GroupContext,
-- interim transcript hash, last confirmation tag and the public ratchet tree (dev.mlsds.codec.PublicGroupState,
-- its own encoding). It is replaced in the transaction, under the row lock, that accepts each commit. No row:
-- the server verifies no signatures for this conversation (an 'any' conversation, or a 'public' one created
-- before this migration that has moved past epoch 0).
CREATE TABLE convo_group_states (
  convo_id TEXT   PRIMARY KEY,
  group_id TEXT   NOT NULL,   -- lowercase hex MLS group_id the state is for
  epoch    BIGINT NOT NULL,   -- the epoch the state describes
  state    BYTEA NOT NULL
);

-- Signature keys of a DID's devices, recorded from every KeyPackage uploaded from now on (KeyPackages are
-- deleted after use, their keys are kept here), so an UpdatePath, Update or external-join leaf can be held to
-- one of its owner's devices.
CREATE TABLE device_signature_keys (
  did           TEXT   NOT NULL,
  signature_key BYTEA NOT NULL,
  device_id     TEXT   NOT NULL,
  created_at    BIGINT NOT NULL,
  PRIMARY KEY (did, signature_key)
);
