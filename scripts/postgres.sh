#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster on a free local port, for the tests and benchmarks.
#
#   bash scripts/postgres.sh start    # prints postgresql+psycopg://mgsearch:PASSWORD@127.0.0.1:PORT/mgsearch
#   bash scripts/postgres.sh url      # prints the URL of the running cluster (exit 1 when none)
#   bash scripts/postgres.sh stop     # stops the cluster and removes its files
#
# The cluster lives in $MGSEARCH_PG_DIR (default /tmp/mgsearch-pg): data directory, unix socket,
# log and the URL. `start` is idempotent: when that cluster already runs it prints its URL again.
# It listens on 127.0.0.1 only, with password (scram-sha-256) authentication for TCP, so the URL is
# exactly what a user would pass to `mgsearch worker --storage`. As root, the server runs as the
# unprivileged `postgres` user (PostgreSQL refuses to run as root). Needs Debian's `postgresql`
# package (installed by scripts/install.sh) or any PostgreSQL >= 13 whose bin dir is given in
# $PG_BIN. Only the URL goes to stdout; diagnostics go to stderr.
set -euo pipefail

DIR="${MGSEARCH_PG_DIR:-/tmp/mgsearch-pg}"
USER_NAME="mgsearch"
DB_NAME="mgsearch"

find_bin() {
    if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ]; then echo "$d"; return; fi
    done
    if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
    echo "scripts/postgres.sh: PostgreSQL not found (apt-get install postgresql, or set PG_BIN)" >&2
    exit 1
}

# Run a command as the server's owner: `postgres` when we are root, ourselves otherwise.
as_owner() {
    if [ "$(id -u)" = "0" ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

running() {
    [ -f "$DIR/url" ] && [ -d "$DIR/data" ] && as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

start() {
    if running; then
        cat "$DIR/url"
        return 0
    fi
    # A stale directory (server gone, e.g. after a reboot): remove it and start afresh.
    if [ -e "$DIR" ]; then stop_quiet; fi
    mkdir -p "$DIR"
    chmod 700 "$DIR"
    if [ "$(id -u)" = "0" ]; then chown postgres: "$DIR"; fi
    local password
    password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
    # The password file is read by initdb (running as the owner), then deleted.
    as_owner sh -c "umask 077; printf '%s\n' '$password' > '$DIR/pwfile'"
    as_owner "$BIN/initdb" -D "$DIR/data" -U "$USER_NAME" --pwfile="$DIR/pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || {
        echo "scripts/postgres.sh: initdb failed, see $DIR/initdb.log" >&2
        cat "$DIR/initdb.log" >&2
        exit 1
    }
    rm -f "$DIR/pwfile"
    local port="" attempt
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        if as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $DIR -c max_connections=200" >/dev/null 2>&1; then
            break
        fi
        port=""
    done
    if [ -z "$port" ]; then
        echo "scripts/postgres.sh: the server did not start, see $DIR/server.log" >&2
        tail -20 "$DIR/server.log" >&2 || true
        exit 1
    fi
    as_owner "$BIN/createdb" -h "$DIR" -p "$port" -U "$USER_NAME" "$DB_NAME"
    local url="postgresql+psycopg://$USER_NAME:$password@127.0.0.1:$port/$DB_NAME"
    as_owner sh -c "umask 077; printf '%s\n' '$url' > '$DIR/url'"
    echo "$url"
}

stop_quiet() {
    if [ -d "$DIR/data" ]; then
        as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
}

BIN="$(find_bin)"
case "${1:-}" in
    start) start ;;
    stop) stop_quiet ;;
    url) if running; then cat "$DIR/url"; else echo "scripts/postgres.sh: no cluster in $DIR" >&2; exit 1; fi ;;
    *) echo "usage: scripts/postgres.sh start|stop|url   (cluster directory: \$MGSEARCH_PG_DIR, default /tmp/mgsearch-pg)" >&2; exit 2 ;;
esac
