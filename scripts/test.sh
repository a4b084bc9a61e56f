#!/usr/bin/env bash
# One-command test run: starts a throwaway PostgreSQL cluster on a local port for the tests that need
# it (when PostgreSQL is installed), runs pytest with the given arguments, and removes the cluster.
# Default run: `bash scripts/test.sh` (fast tests); long ones: `bash scripts/test.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x scripts/postgres.sh ] && [ -z "${MGSEARCH_TEST_POSTGRES_URL:-}" ]; then
    # One cluster per run, so that concurrent runs never stop each other's server.
    export MGSEARCH_PG_DIR="${MGSEARCH_PG_DIR:-$(mktemp -u /tmp/mgsearch-pg.XXXXXX)}"
    if url=$(bash scripts/postgres.sh start); then
        export MGSEARCH_TEST_POSTGRES_URL="$url"
        trap 'bash scripts/postgres.sh stop >/dev/null 2>&1 || true' EXIT
    else
        echo "scripts/test.sh: PostgreSQL could not be started; the postgres tests will be skipped" >&2
    fi
fi
set +e
python -m pytest "$@"
rc=$?
set -e
# pytest exits 5 when a selection holds no test: that is not a failure of the suite.
if [ "$rc" = "5" ]; then rc=0; fi
exit "$rc"
