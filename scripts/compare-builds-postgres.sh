#!/usr/bin/env bash
# Metered /check-prime on PostgreSQL for several prime-server builds, one after the other, twice
# (wrk -t2 -c16, DURATION each), each build on a database of its own (schemas differ between
# builds). For finding which change moved PostgreSQL throughput; compare within one run only.
#
#   scripts/compare-builds-postgres.sh NAME=PATH/TO/prime-server [NAME=PATH ...]
#
# Knobs: PRIME_LOAD_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test: the server
# holding the scratch databases cmp_NAME), DURATION (5s), ROUNDS (2).
set -euo pipefail
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
BASE="${PRIME_LOAD_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
DURATION="${DURATION:-5s}"
ROUNDS="${ROUNDS:-2}"
[ "$#" -ge 1 ] || { sed -n '2,10p' "$0" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 2; }
WORK="$(mktemp -d)"
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("LOAD_KEY")
wrk.body = '{"number": 1000003}'
LUA
port="$(free_port)"
for round in $(seq 1 "$ROUNDS"); do
  for spec in "$@"; do
    name="${spec%%=*}" server="${spec#*=}"
    db="${BASE%/*}/cmp_$name"
    psql -q "$BASE" -c "CREATE DATABASE cmp_$name" 2>/dev/null || true
    key="$("$server" keys create --name "run$round-$RANDOM$RANDOM" --limit 1000000000 --database "$db" 2>/dev/null)"
    "$server" serve --bind "127.0.0.1:$port" --database "$db" --workers 2 >/dev/null 2>&1 &
    PID=$!
    wait_ready "http://127.0.0.1:$port"
    rps="$(LOAD_KEY="$key" wrk -t2 -c16 -d"$DURATION" -s "$WORK/post.lua" "http://127.0.0.1:$port/check-prime" |
      awk '/^Requests\/sec:/ {print $2}')"
    echo "| $name | round $round | $rps |"
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  done
done
