#!/usr/bin/env bash
# Runs the whole test suite: unit tests, SQLite and PostgreSQL integration tests, end-to-end tests with
# real MLS clients. Needs PostgreSQL on 127.0.0.1:5432 (trust auth) and the npm packages (.ci/run sets
# both up). MLSDS_TEST_PG_URL overrides the admin connection used to create per-run test databases.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JAVA_HOME="$("$root/bin/find-jdk")"
export JAVA_HOME
cd "$root"
exec mvn -B -ntp verify "$@"
