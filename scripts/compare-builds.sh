#!/usr/bin/env bash
# Metered /check-prime (or /get-current-time) for several prime-server builds, interleaved:
# every build once per round, ROUNDS rounds (wrk -t2 -c16, DURATION each), each build on a
# store of its own (schemas differ between builds). Interleaving puts every build under the
# same drift of a shared host; compare the ratios within one run only (the median over rounds).
#
#   scripts/compare-builds.sh NAME=PATH/TO/prime-server [NAME=PATH ...]
#
# Knobs: STORE (sqlite, the default: a fresh file per build in a temporary folder; or postgres:
# the scratch databases cmp_NAME on PRIME_LOAD_POSTGRES_URL, default
# postgres://postgres@127.0.0.1:5432/test), ROUTE (check, the default, or time), DURATION (5s),
# ROUNDS (2), SERVE_ARGS_NAME (extra `serve` flags for build NAME, e.g.
# SERVE_ARGS_main="--usage-retention-days 0" to leave out a feature an older build lacks).
set -euo pipefail
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
BASE="${PRIME_LOAD_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
STORE="${STORE:-sqlite}"
ROUTE="${ROUTE:-check}"
DURATION="${DURATION:-5s}"
ROUNDS="${ROUNDS:-2}"
[ "$#" -ge 1 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 2; }
case "$STORE" in sqlite | postgres) ;; *) echo "STORE must be sqlite or postgres" >&2; exit 2 ;; esac
case "$ROUTE" in
  check) path=/check-prime ;;
  time) path=/get-current-time ;;
  *) echo "ROUTE must be check or time" >&2; exit 2 ;;
esac
WORK="$(mktemp -d)"
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
cat >"$WORK/post.lua" <<'LUA'
if os.getenv("LOAD_ROUTE") == "check" then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"number": 1000003}'
end
wrk.headers["Authorization"] = os.getenv("LOAD_KEY")
LUA
store_for() { # build name → its --database value
  if [ "$STORE" = postgres ]; then
    psql -q "$BASE" -c "CREATE DATABASE cmp_$1" 2>/dev/null || true
    echo "${BASE%/*}/cmp_$1"
  else
    echo "$WORK/$1.db"
  fi
}
port="$(free_port)"
echo "| build | round | requests/s ($STORE, $path) |"
echo "|---|---|---:|"
for round in $(seq 1 "$ROUNDS"); do
  for spec in "$@"; do
    name="${spec%%=*}" server="${spec#*=}"
    db="$(store_for "$name")"
    key="$("$server" keys create --name "run$round-$RANDOM$RANDOM" --limit 1000000000 --database "$db" 2>/dev/null)"
    extra="SERVE_ARGS_$name"
    # shellcheck disable=SC2086 # the extra flags are meant to be split into words
    "$server" serve --bind "127.0.0.1:$port" --database "$db" --workers 2 ${!extra:-} >/dev/null 2>&1 &
    PID=$!
    wait_ready "http://127.0.0.1:$port"
    rps="$(LOAD_KEY="$key" LOAD_ROUTE="$ROUTE" wrk -t2 -c16 -d"$DURATION" -s "$WORK/post.lua" "http://127.0.0.1:$port$path" |
      awk '/^Requests\/sec:/ {print $2}')"
    echo "| $name | $round | $rps |"
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  done
done
