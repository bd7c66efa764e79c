-- Retention (docs/limits.md, "Retention"): the periodic purges find their rows by index instead of
-- scanning whole tables every minute on every node.
-- Closed conversations are few; only they are indexed (sendMessage's UPDATE of convos stays HOT).
CREATE INDEX convos_closed ON convos (id) WHERE closed = TRUE;
-- Welcome messages no delivery points at any more, oldest first.
CREATE INDEX welcome_blobs_by_age ON welcome_blobs (created_at);
-- Commit reports older than the message retention.
CREATE INDEX commit_reports_by_age ON commit_reports (created_at);
