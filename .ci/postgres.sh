#!/usr/bin/env bash
# Starts a throw-away PostgreSQL on loopback for the test suite, or stops it.
#   .ci/postgres.sh start DIR   → prints the admin URL (a role that may create databases)
#   .ci/postgres.sh stop DIR
# Installs Debian's postgresql if no server binaries exist. Runs as the unprivileged
# `postgres` user (created by the package) in DIR, with fsync off: the data is disposable.
set -euo pipefail
cmd="${1:?start|stop}"
dir="${2:?data directory}"
# A free port unless one is given (another PostgreSQL may hold 5432 or a previous choice).
port="${TESSERA_TEST_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

# From /: PostgreSQL's tools fail if the current directory (e.g. /root/…) is not theirs to read.
as_postgres() { (cd / && runuser -u postgres -- "$@"); }

case "$cmd" in
start)
  if ! bin="$(pg_bin)"; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    bin="$(pg_bin)"
  fi
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  mkdir -p "$dir"
  chown postgres "$dir"
  chmod 700 "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
    start >&2 || { tail -20 "$dir/server.log" >&2; exit 1; }
  as_postgres "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qAtc \
    "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tessera') THEN CREATE ROLE tessera LOGIN CREATEDB; END IF; END \$\$;" postgres
  as_postgres "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qAtc \
    "SELECT 1 FROM pg_database WHERE datname = 'tessera'" postgres | grep -q 1 ||
    as_postgres "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE tessera OWNER tessera" postgres
  echo "postgres://tessera@127.0.0.1:$port/tessera"
  ;;
stop)
  bin="$(pg_bin)"
  as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
