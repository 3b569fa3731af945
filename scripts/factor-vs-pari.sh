#!/usr/bin/env bash
# Times primality's `factorize` (examples/factor.rs, release build), PARI/GP's `factor()` and,
# when installed, GMP-ECM (`ecm`) on the same numbers, in the same run, one after the other.
#
#   scripts/factor-vs-pari.sh            # every set
#   scripts/factor-vs-pari.sh u64 semi128 # some sets
#
# Sets (made by `examples/factor.rs --gen SET COUNT SEED`, seed 1): the tutorial's number;
# 100 random odd 64-bit composites; 10 products of two random 64-bit primes; 10 products of a
# random 20-digit prime and a random 40-digit prime; 20 x 80 digits; 15 x 150 digits. Each time
# is the mean of REPS calls on one number (PARI's clock counts milliseconds); the table gives the
# median over the set's numbers, and ratio = prime-api / PARI. GMP-ECM is timed from the start of
# `ecm -one` with GMP-ECM's B1 for the small factor's size (2000 for 15 digits, 11000 for 20)
# until it prints that factor: its expected time to find such a factor.
#
# Needs gp (Debian: apt-get install pari-gp; skipped with a message where absent) and optionally
# ecm (apt-get install gmp-ecm).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v gp >/dev/null; then
    echo "factor-vs-pari: PARI/GP (gp) is not installed: skipped (apt-get install pari-gp)" >&2
    exit 0
fi
have_ecm=false
if command -v ecm >/dev/null; then have_ecm=true; else
    echo "factor-vs-pari: GMP-ECM (ecm) is not installed: its column is skipped (apt-get install gmp-ecm)" >&2
fi

cargo build --release -q -p primality --example factor
bin="${CARGO_TARGET_DIR:-target}/release/examples/factor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# set:count:reps:ecm-B1 (0: no ECM column)
specs=(tutorial:10:200:0 u64:100:2000:0 semi128:10:20:0 p20xp40:10:1:11000 p20xp80:10:1:11000 p15xp150:10:1:2000)
if [ $# -gt 0 ]; then
    wanted=" $* "
    selected=()
    for s in "${specs[@]}"; do
        [[ $wanted == *" ${s%%:*} "* ]] && selected+=("$s")
    done
    specs=("${selected[@]}")
fi

median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) m=v[(NR+1)/2]; else m=(v[NR/2]+v[NR/2+1])/2; printf "%.9f\n", m}'; }

echo "| set | numbers | prime-api median | PARI factor() median | ratio | GMP-ECM median |"
echo "| --- | --- | --- | --- | --- | --- |"
for spec in "${specs[@]}"; do
    IFS=: read -r set count reps b1 <<<"$spec"
    "$bin" --gen "$set" "$count" 1 >"$work/$set.txt"

    ours=$("$bin" --repeat "$reps" - <"$work/$set.txt" 2>/dev/null | awk '{print $1}' | median)

    {
        echo "default(parisize, 256000000); default(nbthreads, 1);"
        echo "v = [$(paste -sd, "$work/$set.txt")];"
        echo "t = vector(#v, i, my(s = getwalltime()); for(j = 1, $reps, factor(v[i])); (getwalltime() - s) / $reps / 1000.);"
        echo "t = vecsort(t); printf(\"%.9f\\n\", if(#t % 2, t[(#t + 1) / 2], (t[#t / 2] + t[#t / 2 + 1]) / 2));"
    } >"$work/$set.gp"
    pari=$(gp -q -f "$work/$set.gp" </dev/null 2>/dev/null | tail -1)

    ecm_col="-"
    if $have_ecm && [ "$b1" != 0 ]; then
        : >"$work/$set.ecm"
        while read -r n; do
            start=$(date +%s.%N)
            echo "$n" | ecm -q -one -c 100000 "$b1" >/dev/null || true
            end=$(date +%s.%N)
            echo "$end - $start" | bc -l >>"$work/$set.ecm"
        done <"$work/$set.txt"
        ecm_col=$(median <"$work/$set.ecm")
        ecm_col=$(printf '%.4f s' "$ecm_col")
    fi
    ratio=$(echo "$ours / $pari" | bc -l 2>/dev/null || echo "?")
    printf '| %s | %s | %.6f s | %.6f s | %.2f | %s |\n' "$set" "$count" "$ours" "$pari" "$ratio" "$ecm_col"
done
