#!/usr/bin/env bash
# Batch checks (issue 12), every figure from ONE run on this machine, release binaries:
#
#   1. `seq 1 10000 | prime-client check -`: --batch-size 1 against the default (1000);
#   2. `seq 1 1000000 | prime-client check -`: numbers/s end to end;
#   3. wrk posting JSON batches of 1000 small numbers to /check-prime/batch: numbers/s;
#   4. one NDJSON stream of 100,000 then of 1,000,000 lines: the server's peak memory (VmHWM)
#      after each, and the lines and units of each;
#   5. /get-current-time p99 while clients post batches at the work limit (4 numbers of
#      8191 bits) and batches of 1000 x 8191-bit numbers (refused: over the work limit; the
#      server runs with --max-batch-body-bytes 4194304 so that such a batch fits in a body).
#
#   scripts/batch-bench.sh        # knobs: DURATION (default 10s), CONNECTIONS (8), WORKERS (nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-8}"
WORKERS="${WORKERS:-$(nproc)}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/prime-api-target}"

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (Debian package)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi

cargo build --release --quiet -p prime-server -p prime-client --bins
SERVER="$CARGO_TARGET_DIR/release/prime-server"
CLIENT="$CARGO_TARGET_DIR/release/prime-client"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

port="$(free_port)"
URL="http://127.0.0.1:$port"
DB="sqlite://$WORK/bench.db"
KEY="$("$SERVER" keys create --name bench --limit 1000000000000 --database "$DB")"
# A JSON batch of 1000 numbers of 8191 bits is 2.5 MB: a body limit of 4 MiB lets it reach the
# work limit (422) instead of the body limit (413).
"$SERVER" serve --bind "127.0.0.1:$port" --database "$DB" --workers "$WORKERS" \
  --max-batch-body-bytes 4194304 \
  >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
wait_ready "$URL"

timed() { # command... -> wall-clock seconds on stdout
  local t0 t1; t0="$EPOCHREALTIME"; "$@"; t1="$EPOCHREALTIME"; python3 -c "print(f'{$t1 - $t0:.3f}')"
}
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status"; }
used() {
  "$SERVER" keys list --json --database "$DB" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["used"])'
}
client() { PRIME_API_URL="$URL" PRIME_API_KEY="$KEY" "$CLIENT" "$@"; }

echo "# batch checks — $(date -u +%FT%TZ), $(nproc) cores, $WORKERS workers, wrk -t2 -c$CONNECTIONS -d$DURATION"
echo
echo "| measurement | result | target |"
echo "|---|---:|---|"

seq 1 10000 >"$WORK/10k.txt"
seq 1 1000000 >"$WORK/1m.txt"
ONE="$(timed sh -c "PRIME_API_URL=$URL PRIME_API_KEY=$KEY $CLIENT check --batch-size 1 - <$WORK/10k.txt >$WORK/one.out")"
BATCHED="$(timed sh -c "PRIME_API_URL=$URL PRIME_API_KEY=$KEY $CLIENT check - <$WORK/10k.txt >$WORK/batched.out")"
cmp -s "$WORK/one.out" "$WORK/batched.out" && SAME="identical output" || SAME="OUTPUT DIFFERS"
printf '| `seq 1 10000 \\| prime-client check -`: --batch-size 1 / default | %s s / %s s = %.0f× faster (%s) | ≥ 50× |\n' \
  "$ONE" "$BATCHED" "$(python3 -c "print($ONE / $BATCHED)")" "$SAME"

MILLION="$(timed sh -c "PRIME_API_URL=$URL PRIME_API_KEY=$KEY $CLIENT check - <$WORK/1m.txt >$WORK/1m.out")"
printf '| `seq 1 1000000 \\| prime-client check -` | %s s, %.0f numbers/s (%s lines) | ≥ 100,000/s |\n' \
  "$MILLION" "$(python3 -c "print(1000000 / $MILLION)")" "$(wc -l <"$WORK/1m.out")"

python3 -c 'import json; print(json.dumps({"numbers": list(range(1000003, 1002003, 2))}), end="")' >"$WORK/batch.json"
cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "$KEY"
local f = assert(io.open(os.getenv("BODY"), "r")); wrk.body = f:read("*a"); f:close()
LUA
before="$(used)"
BODY="$WORK/batch.json" wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/post.lua" \
  "$URL/check-prime/batch" >"$WORK/wrk-batch.txt"
sleep 1
after="$(used)"
rps="$(awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk-batch.txt")"
non2xx="$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk-batch.txt")"
printf '| wrk, JSON batches of 1000 small numbers to /check-prime/batch | %.0f numbers/s (%s batches/s; units consumed %s; non-2xx %s) | ≥ 500,000/s |\n' \
  "$(python3 -c "print($rps * 1000)")" "$rps" "$((after - before))" "${non2xx:-0}"

stream() { # lines-file out-file
  curl -sS -X POST -H "Authorization: $KEY" -H 'Content-Type: application/x-ndjson' \
    -T "$1" "$URL/check-prime/batch" -o "$2"
}
hwm0="$(hwm_kib)"
before="$(used)"
T100K="$(timed stream <(head -n 100000 "$WORK/1m.txt") "$WORK/s100k.out")"
hwm1="$(hwm_kib)"
mid="$(used)"
T1M="$(timed stream "$WORK/1m.txt" "$WORK/s1m.out")"
hwm2="$(hwm_kib)"
after="$(used)"
printf '| NDJSON stream, 100,000 lines | %s s; %s result lines, %s units; server VmHWM %s → %s KiB | — |\n' \
  "$T100K" "$(wc -l <"$WORK/s100k.out")" "$((mid - before))" "$hwm0" "$hwm1"
printf '| NDJSON stream, 1,000,000 lines | %s s; %s result lines, %s units; server VmHWM %s → %s KiB | flat memory |\n' \
  "$T1M" "$(wc -l <"$WORK/s1m.out")" "$((after - mid))" "$hwm1" "$hwm2"

python3 -c 'print("{\"numbers\": [%s]}" % ",".join([str(2**8191 - 1)] * 4), end="")' >"$WORK/heavy4.json"
python3 -c 'print("{\"numbers\": [%s]}" % ",".join([str(2**8191 - 1)] * 1000), end="")' >"$WORK/heavy1000.json"
cat >"$WORK/time.lua" <<LUA
wrk.method = "GET"
wrk.headers["Authorization"] = "$KEY"
LUA
p99_ms() {
  awk '$1 == "99%" { v=$2; if (v ~ /us$/) { sub(/us$/,"",v); v=v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) } else if (v ~ /s$/) { sub(/s$/,"",v); v=v*1000 }; print v }' "$1"
}
for heavy in heavy4 heavy1000; do
  BODY="$WORK/$heavy.json" wrk -t1 -c4 -d"$DURATION" -s "$WORK/post.lua" "$URL/check-prime/batch" \
    >"$WORK/$heavy-load.txt" &
  HEAVY=$!
  sleep 1
  wrk -t1 -c4 -d"$DURATION" --latency -s "$WORK/time.lua" "$URL/get-current-time" >"$WORK/$heavy-time.txt"
  wait "$HEAVY"
  printf '| /get-current-time p99 while 4 clients post %s | %s ms (%s req/s; the batches: %s req/s, non-2xx %s) | ≤ 50 ms |\n' \
    "$([ $heavy = heavy4 ] && echo '4 × (2^8191−1), at the work limit' || echo '1000 × (2^8191−1), over the work limit (422)')" \
    "$(p99_ms "$WORK/$heavy-time.txt")" "$(awk '/^Requests\/sec:/ {print $2}' "$WORK/$heavy-time.txt")" \
    "$(awk '/^Requests\/sec:/ {print $2}' "$WORK/$heavy-load.txt")" "$(awk '/Non-2xx/ {print $NF}' "$WORK/$heavy-load.txt")"
done
