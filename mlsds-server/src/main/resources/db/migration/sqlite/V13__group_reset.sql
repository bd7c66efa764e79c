-- Group reset (docs/conversations.md, "Group reset"): a conversation can move to a new MLS group. Every
-- group a conversation ran on before its current one is recorded here, so a message for it gets 409
-- GroupReset (not WrongGroup) and a group id is never used twice. convos.group_id holds the current group
-- (NULL: still the first one, whose id is the conversation id); convos.reset_seq is the seq of the last
-- reset's commit.
CREATE TABLE convo_groups (
  group_id   TEXT   PRIMARY KEY,   -- lowercase hex MLS group_id of a replaced group
  convo_id   TEXT   NOT NULL,
  ended_seq  BIGINT NOT NULL,      -- latest_seq of the conversation when the group was replaced
  ended_at   BIGINT NOT NULL,
  reset_by   TEXT   NOT NULL
);
CREATE INDEX convo_groups_by_convo ON convo_groups (convo_id);
CREATE UNIQUE INDEX convos_by_group_id ON convos (group_id);
