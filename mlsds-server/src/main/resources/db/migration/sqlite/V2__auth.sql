-- Service-token ids already accepted (API.md §2: a jti is single-use per issuer while the token could be
-- valid). keep_until = the token's exp plus a margin for node clock differences, in epoch millis; JtiStore
-- overwrites rows past it and purges them.
CREATE TABLE auth_jti (
  issuer     TEXT NOT NULL,
  jti        TEXT NOT NULL,
  keep_until BIGINT NOT NULL,
  PRIMARY KEY (issuer, jti)
);
CREATE INDEX auth_jti_keep_until ON auth_jti (keep_until);
