-- KeyPackages uploaded through the single-item publishKeyPackage, the 2025 clients' call. Those clients made a
-- fresh signature key per KeyPackage, so each such KeyPackage looks like a device of its own; the server
-- treats a user's legacy uploads as one device (docs/keypackages.md, "Legacy device grouping").
ALTER TABLE key_packages ADD COLUMN legacy_upload BOOLEAN NOT NULL DEFAULT 0;
