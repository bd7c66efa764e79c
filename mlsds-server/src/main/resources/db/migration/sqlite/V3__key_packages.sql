-- KeyPackages (API.md §3). One row per KeyPackageRef (the RFC 9420 ref, computed server-side: the only
-- meaning of "key package hash" here). State machine: available -> reserved (lease) -> used (named by an
-- accepted Welcome) -> consumed (Welcome fetched by its device). A lapsed lease counts as available.
-- Last-resort KeyPackages stay 'available' forever (never reserved exclusively, never consumed) until a
-- newer last-resort KeyPackage of the same device and suite replaces them.
CREATE TABLE key_packages (
  ref            TEXT    PRIMARY KEY,
  did            TEXT    NOT NULL,
  device_id      TEXT    NOT NULL,
  cipher_suite   INTEGER NOT NULL,
  data           BLOB    NOT NULL,
  last_resort    BOOLEAN NOT NULL DEFAULT 0,
  state          TEXT    NOT NULL CHECK (state IN ('available', 'reserved', 'used', 'consumed')),
  reserved_by    TEXT,
  reserved_until BIGINT,
  convo_id       TEXT,
  not_after      BIGINT  NOT NULL,
  created_at     BIGINT  NOT NULL,
  used_at        BIGINT,
  consumed_at    BIGINT
);
CREATE INDEX key_packages_claim ON key_packages (did, cipher_suite, device_id, state, created_at);
CREATE INDEX key_packages_consumed ON key_packages (did, consumed_at);
