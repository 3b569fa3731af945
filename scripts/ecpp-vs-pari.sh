#!/usr/bin/env bash
# Times our ECPP prove/verify and PARI/GP's primecert/primecertisvalid on the same primes, in
# the same run, and prints a Markdown table of medians per size with the ratios.
#   scripts/ecpp-vs-pari.sh [PRIMES_FILE]   (default: crates/primality/benches/ecpp_primes.txt)
# Needs gp (Debian: apt-get install -y pari-gp).
set -euo pipefail
cd "$(dirname "$0")/.."
primes=${1:-crates/primality/benches/ecpp_primes.txt}
command -v gp >/dev/null || { echo "gp (PARI/GP) is not installed" >&2; exit 2; }
cargo build --release -q -p primality --example ecpp_times
target=${CARGO_TARGET_DIR:-target}
ours=$(mktemp); pari=$(mktemp); trap 'rm -f "$ours" "$pari"' EXIT
"$target/release/examples/ecpp_times" "$primes" >"$ours"
PRIMES="$primes" gp -q -f -D parisize=400000000 scripts/ecpp_pari_times.gp >"$pari"
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
echo "| digits | primes | prove (ours) | primecert (PARI) | ratio | steps ours / PARI | verify (ours) | primecertisvalid (PARI) | ratio |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for d in $(awk '{print $1}' "$ours" | uniq); do
  n=$(awk -v d="$d" '$1==d' "$ours" | wc -l)
  op=$(awk -v d="$d" '$1==d {print $2}' "$ours" | median)
  ov=$(awk -v d="$d" '$1==d {print $3}' "$ours" | median)
  os=$(awk -v d="$d" '$1==d {print $4}' "$ours" | median)
  pp=$(awk -v d="$d" '$1==d {print $2}' "$pari" | median)
  pv=$(awk -v d="$d" '$1==d {print $3}' "$pari" | median)
  ps=$(awk -v d="$d" '$1==d {print $4}' "$pari" | median)
  awk -v d="$d" -v n="$n" -v op="$op" -v pp="$pp" -v ov="$ov" -v pv="$pv" -v os="$os" -v ps="$ps" 'BEGIN {
    printf "| %s | %s | %.1f ms | %.0f ms | %.2f | %s / %s | %.2f ms | %.0f ms | %.2f |\n",
      d, n, op, pp, (pp > 0 ? op / pp : 0), os, ps, ov, pv, (pv > 0 ? ov / pv : 0) }'
done
