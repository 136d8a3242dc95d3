#!/usr/bin/env bash
# run-example.sh EXAMPLE - run the README's example against the server that
# with-postgres.sh started (its NR_TEST_PG_* variables), and check its output.
set -euo pipefail
out=$(NR_PG_PASSWORD="$NR_TEST_PG_PASSWORD" "$1" \
    "{\"host\": \"$NR_TEST_PG_HOST\", \"port\": $NR_TEST_PG_PORT, \"user\": \"$NR_TEST_PG_USER\", \"dbname\": \"$NR_TEST_PG_DB\"}")
echo "$out"
grep -q '^visits: [1-9]' <<<"$out"
# a wrong password: a clear error, without the password
if err=$(NR_PG_PASSWORD="not-$NR_TEST_PG_PASSWORD" "$1" \
    "{\"host\": \"$NR_TEST_PG_HOST\", \"port\": $NR_TEST_PG_PORT, \"user\": \"$NR_TEST_PG_USER\", \"dbname\": \"$NR_TEST_PG_DB\"}" 2>&1); then
    echo "the example succeeded with a wrong password" >&2
    exit 1
fi
echo "$err"
grep -q 'NR_ECRED' <<<"$err"
if grep -q -- "$NR_TEST_PG_PASSWORD" <<<"$err"; then
    echo "the password appears in the error" >&2
    exit 1
fi
