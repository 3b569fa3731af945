#!/usr/bin/env bash
# Load benchmark for prime-server, driven by wrk from a second process on loopback.
#
# Every figure is measured in ONE run next to a bare actix-web baseline
# (crates/server/examples/bare_baseline.rs) so results are reported as ratios: this machine is
# shared and noisy, absolute requests/s do not travel between runs.
#
#   scripts/load-test.sh                     # SQLite: baseline, /check-prime, /get-current-time,
#                                            # latency of /get-current-time under 8192-bit load
#   PRIME_LOAD_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test scripts/load-test.sh
#                                            # ... plus one and two instances on PostgreSQL
#
#   ONLY_POLICIES=1 scripts/load-test.sh    # only the baseline and the key-policies comparison
#   OLD_SERVER=/path/to/older/prime-server [OLD_POSTGRES_URL=postgres://.../other_db] \
#     scripts/load-test.sh                   # ... plus the same metered and time runs against an
#                                            # older build, in this same run (before/after ratios)
#
# Knobs (environment): DURATION (default 10s), CONNECTIONS (16), WRK_THREADS (2), WORKERS
# (actix workers per server, default: number of cores).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-16}"
WRK_THREADS="${WRK_THREADS:-2}"
WORKERS="${WORKERS:-$(nproc)}"
HEAVY_CLIENTS=$((2 * $(nproc)))
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/prime-api-target}"

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (Debian package)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi

cargo build --release --quiet -p prime-server --bin prime-server --example bare_baseline
SERVER="$CARGO_TARGET_DIR/release/prime-server"
BASELINE="$CARGO_TARGET_DIR/release/examples/bare_baseline"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# wrk script: POST a fixed JSON body with a key, count 200 responses per thread (printed at the
# end as "ok=N") so the server's own count of consumed units can be compared with what clients saw.
cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("LOAD_KEY")
if key and key ~= "" then wrk.headers["Authorization"] = key end
local file = os.getenv("LOAD_BODY_FILE")
if file and file ~= "" then
  local f = assert(io.open(file, "r")); wrk.body = f:read("*a"); f:close()
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init() ok = 0 end
function response(status) if status == 200 then ok = ok + 1 end end
function done()
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("ok") end
  io.write(string.format("ok=%d\n", total))
end
LUA

printf '{"number": 1000003}' >"$WORK/small.json"
python3 -c 'print("{\"number\": %d}" % (2**8191 - 1), end="")' >"$WORK/heavy.json"

rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
ok_count() { awk -F= '/^ok=/ {print $2}' "$1"; }
p99_ms() { # wrk --latency prints "99%  12.34ms" (or us / s)
  awk '$1 == "99%" { v=$2; if (v ~ /us$/) { sub(/us$/,"",v); v=v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) } else if (v ~ /s$/) { sub(/s$/,"",v); v=v*1000 }; print v }' "$1"
}
run_wrk() { # out-file url [key] [body-file] [connections]
  LOAD_KEY="${3:-}" LOAD_BODY_FILE="${4:-}" wrk -t"$WRK_THREADS" -c"${5:-$CONNECTIONS}" -d"$DURATION" \
    --latency -s "$WORK/post.lua" "$2" >"$1"
}

start_server() { # name database-url [serve flags...] -> sets URL_<name>
  local port; port="$(free_port)"
  local name="$1" db="$2"; shift 2
  "$SERVER" serve --bind "127.0.0.1:$port" --database "$db" --workers "$WORKERS" "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.log" &
  PIDS+=("$!")
  wait_ready "http://127.0.0.1:$port"
  printf -v "URL_$name" '%s' "http://127.0.0.1:$port"
}

used_of() { # database-url key-name
  "$SERVER" keys list --json --database "$1" |
    python3 -c 'import json,sys; print(next(k["used"] for k in json.load(sys.stdin) if k["name"] == sys.argv[1]))' "$2"
}

echo "# prime-server load benchmark — $(date -u +%FT%TZ), $(nproc) cores, wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION, $WORKERS workers" >&2

port="$(free_port)"
"$BASELINE" "127.0.0.1:$port" "$WORKERS" >/dev/null 2>&1 &
PIDS+=("$!")
URL_baseline="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
  -d '{"number":1}' "$URL_baseline/" 2>/dev/null && break; sleep 0.1; done
run_wrk "$WORK/baseline.txt" "$URL_baseline/check-prime" "" "$WORK/small.json"
BASE_RPS="$(rps "$WORK/baseline.txt")"

# The bare handler again, now (requests/s): the rows below are compared with the mean of the
# runs right before and right after them, so that the host's drift between the first baseline
# and a row measured minutes later does not enter the ratio.
bare_now() {
  local out="$WORK/bare-$RANDOM$RANDOM.txt"
  run_wrk "$out" "$URL_baseline/check-prime" "" "$WORK/small.json"
  rps "$out"
}
BARE_BEFORE=""
bare_ratio() { # scenario-rps -> "NN% | bare beside it: B1, B2" (runs the second bare run)
  local after; after="$(bare_now)"
  local mean; mean="$(echo "($BARE_BEFORE + $after) / 2" | bc -l)"
  printf '%.0f%% | bare beside it: %s before, %s after' "$(echo "100 * $1 / $mean" | bc -l)" "$BARE_BEFORE" "$after"
}

bench_metered() { # label database-url -> row of the table; checks exact counting
  local label="$1" db="$2" name; name="load-$RANDOM$RANDOM"
  local key; key="$("$SERVER" keys create --name "$name" --limit 1000000000 --database "$db")"
  local before after counted
  before="$(used_of "$db" "$name")"
  BARE_BEFORE="$(bare_now)"
  run_wrk "$WORK/$name.txt" "$3/check-prime" "$key" "$WORK/small.json"
  local r; r="$(rps "$WORK/$name.txt")"
  local vs; vs="$(bare_ratio "$r")"
  after="$(used_of "$db" "$name")" # the bare run after let requests cut off by wrk finish
  counted="$(ok_count "$WORK/$name.txt")"
  printf '| metered /check-prime (%s) | %s | %s; 200s seen by wrk: %s, units consumed: %s (wrk drops responses in flight at its deadline: at most %s) |\n' \
    "$label" "$r" "$vs" "$counted" "$((after - before))" "$CONNECTIONS"
  KEY_LAST="$key"
}

echo
echo "| scenario | requests/s | vs bare baseline (first run; metered and time rows: the runs beside them) | notes |"
echo "|---|---:|---:|---|"
printf '| bare actix-web JSON handler | %s | 100%% | crates/server/examples/bare_baseline.rs |\n' "$BASE_RPS"

# Key policies (issue 15): metered /check-prime on SQLite with a burst limit (a rate that never
# refuses: the GCRA is computed and written in every batch) and usage history on, against the
# same server without them (a key without rate, --usage-retention-days 0). Alternated twice,
# DURATION/2 each, in this one run; both must count exactly (quota and history).
policies_run() { # label url db key name -> appends rps to RPS_<label>
  local out="$WORK/pol-$1-$RANDOM.txt" before after hist
  before="$(used_of "$3" "$5")"
  LOAD_KEY="$4" LOAD_BODY_FILE="$WORK/small.json" wrk -t"$WRK_THREADS" -c"$CONNECTIONS" \
    -d"$HALF" --latency -s "$WORK/post.lua" "$2/check-prime" >"$out"
  sleep 1
  after="$(used_of "$3" "$5")"
  printf -v "RPS_$1" '%s %s' "$(eval echo "\${RPS_$1:-}")" "$(rps "$out")"
  printf -v "SEEN_$1" '%s' "$(( $(eval echo "\${SEEN_$1:-0}") + $(ok_count "$out") ))"
  printf -v "USED_$1" '%s' "$(( $(eval echo "\${USED_$1:-0}") + after - before ))"
}
HALF="$(( ${DURATION%s} / 2 ))s"
DB_OFF="sqlite://$WORK/policies-off.db"
DB_ON="sqlite://$WORK/policies-on.db"
start_server off "$DB_OFF" --usage-retention-days 0
start_server on "$DB_ON" --usage-retention-days 90
KEY_OFF="$("$SERVER" keys create --name plain --limit 1000000000 --database "$DB_OFF" 2>/dev/null)"
KEY_ON="$("$SERVER" keys create --name paced --limit 1000000000 --rate 1000000/s --database "$DB_ON" 2>/dev/null)"
for _ in 1 2; do
  policies_run off "$URL_off" "$DB_OFF" "$KEY_OFF" plain
  policies_run on "$URL_on" "$DB_ON" "$KEY_ON" paced
done
ID_ON="$("$SERVER" keys list --json --database "$DB_ON" |
  python3 -c 'import json,sys; print(next(k["id"] for k in json.load(sys.stdin) if k["name"] == "paced"))')"
HIST_ON="$("$SERVER" keys usage "$ID_ON" --days 2 --json --database "$DB_ON" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')"
mean() { echo "$@" | awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.0f", s / NF }'; }
OFF_MEAN="$(mean $RPS_off)"; ON_MEAN="$(mean $RPS_on)"
printf '| metered /check-prime, SQLite, no burst limit, no history | %s | %.0f%% | runs: %s; 200s seen: %s, units consumed: %s |\n' \
  "$OFF_MEAN" "$(echo "100 * $OFF_MEAN / $BASE_RPS" | bc -l)" "$RPS_off" "$SEEN_off" "$USED_off"
printf '| metered /check-prime, SQLite, burst limit + history | %s | %.0f%% | runs: %s; 200s seen: %s, units consumed: %s, history: %s; **%.2fx** the run without |\n' \
  "$ON_MEAN" "$(echo "100 * $ON_MEAN / $BASE_RPS" | bc -l)" "$RPS_on" "$SEEN_on" "$USED_on" "$HIST_ON" \
  "$(echo "$ON_MEAN / $OFF_MEAN" | bc -l)"
if [ -n "${ONLY_POLICIES:-}" ]; then exit 0; fi

DB_SQLITE="sqlite://$WORK/load.db"
start_server sqlite "$DB_SQLITE"
bench_metered "SQLite" "$DB_SQLITE" "$URL_sqlite"
KEY_SQLITE="$KEY_LAST"
BARE_BEFORE="$(bare_now)"
run_wrk "$WORK/time.txt" "$URL_sqlite/get-current-time" "$KEY_SQLITE" ""
TIME_RPS="$(rps "$WORK/time.txt")"
printf '| /get-current-time (SQLite) | %s | %s; authenticated, not metered |\n' \
  "$TIME_RPS" "$(bare_ratio "$TIME_RPS")"

# /get-current-time latency while 2 x cores clients hammer /check-prime with 2^8191-1
# (8191 bits: passes trial division and base 2, so it costs a full BPSW plus a witness search).
LOAD_KEY="$KEY_SQLITE" LOAD_BODY_FILE="$WORK/heavy.json" \
  wrk -t1 -c"$HEAVY_CLIENTS" -d"$DURATION" -s "$WORK/post.lua" "$URL_sqlite/check-prime" >"$WORK/heavy.txt" &
HEAVY_PID=$!
sleep 1
LOAD_KEY="$KEY_SQLITE" wrk -t1 -c4 -d"$DURATION" --latency -s "$WORK/post.lua" \
  "$URL_sqlite/get-current-time" >"$WORK/time-under-load.txt"
wait "$HEAVY_PID"
printf '| /get-current-time while %s clients send 8191-bit numbers | %s | — | p99 latency %s ms (heavy /check-prime: %s req/s) |\n' \
  "$HEAVY_CLIENTS" "$(rps "$WORK/time-under-load.txt")" "$(p99_ms "$WORK/time-under-load.txt")" "$(rps "$WORK/heavy.txt")"

if [ -n "${PRIME_LOAD_POSTGRES_URL:-}" ]; then
  DB_PG="$PRIME_LOAD_POSTGRES_URL"
  start_server pg1 "$DB_PG"
  bench_metered "PostgreSQL, one instance" "$DB_PG" "$URL_pg1"
  start_server pg2 "$DB_PG"
  # Two instances on one database: half the connections to each, one key shared by both.
  name="load-$RANDOM$RANDOM"
  key="$("$SERVER" keys create --name "$name" --limit 1000000000 --database "$DB_PG")"
  before="$(used_of "$DB_PG" "$name")"
  run_wrk "$WORK/pg-a.txt" "$URL_pg1/check-prime" "$key" "$WORK/small.json" $((CONNECTIONS / 2)) &
  A=$!
  run_wrk "$WORK/pg-b.txt" "$URL_pg2/check-prime" "$key" "$WORK/small.json" $((CONNECTIONS / 2))
  wait "$A"
  sleep 1
  after="$(used_of "$DB_PG" "$name")"
  total="$(echo "$(rps "$WORK/pg-a.txt") + $(rps "$WORK/pg-b.txt")" | bc -l)"
  printf '| metered /check-prime (PostgreSQL, two instances, one key) | %.0f | %.0f%% | 200s seen by wrk: %s, units consumed: %s |\n' \
    "$total" "$(echo "100 * $total / $BASE_RPS" | bc -l)" \
    "$(($(ok_count "$WORK/pg-a.txt") + $(ok_count "$WORK/pg-b.txt")))" "$((after - before))"
fi

# The same measurements against an older build (its own database: schemas differ), to show a
# change made the server no slower, in one run.
if [ -n "${OLD_SERVER:-}" ]; then
  NEW_SERVER="$SERVER"
  SERVER="$OLD_SERVER"
  DB_OLD="sqlite://$WORK/old.db"
  start_server old "$DB_OLD"
  bench_metered "SQLite, OLD_SERVER" "$DB_OLD" "$URL_old"
  BARE_BEFORE="$(bare_now)"
  run_wrk "$WORK/old-time.txt" "$URL_old/get-current-time" "$KEY_LAST" ""
  OLD_TIME_RPS="$(rps "$WORK/old-time.txt")"
  printf '| /get-current-time (SQLite, OLD_SERVER) | %s | %s; authenticated, not metered |\n' \
    "$OLD_TIME_RPS" "$(bare_ratio "$OLD_TIME_RPS")"
  if [ -n "${OLD_POSTGRES_URL:-}" ]; then
    start_server oldpg "$OLD_POSTGRES_URL"
    bench_metered "PostgreSQL, one instance, OLD_SERVER" "$OLD_POSTGRES_URL" "$URL_oldpg"
  fi
  SERVER="$NEW_SERVER"
fi
