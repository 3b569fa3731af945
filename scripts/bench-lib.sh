# Helpers sourced by the benchmark scripts (load-test.sh, batch-bench.sh,
# compare-builds.sh).

free_port() { # -> a free loopback port on stdout
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_ready() { # url: wait up to 10 s for its /healthz, else fail the script
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$1/healthz" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "server at $1 did not become ready" >&2
  exit 1
}
