-- KeyPackages, continued (see V3). replaced_at marks a last-resort KeyPackage that a newer upload of the
-- same device and suite superseded: it is never handed out again, but the row stays (until it expires or
-- the device syncs it away) so a Welcome that already names it can still be fetched.
ALTER TABLE key_packages ADD COLUMN replaced_at BIGINT;

-- At most one current last-resort KeyPackage per (user, device, suite): the invariant as a constraint.
CREATE UNIQUE INDEX key_packages_one_last_resort ON key_packages (did, device_id, cipher_suite)
  WHERE last_resort AND replaced_at IS NULL;
-- syncKeyPackages and the per-device limit.
CREATE INDEX key_packages_device ON key_packages (did, device_id);
-- Maintenance: expiry and lapsed leases.
CREATE INDEX key_packages_not_after ON key_packages (not_after);
CREATE INDEX key_packages_leases ON key_packages (reserved_until) WHERE state = 'reserved';
