#!/usr/bin/env bash
# moe-nmt against the PyTorch reference (../shared/bench/torchref), side by
# side in one run on this machine: the same model configs, batch shapes and
# thread counts, each measurement in its own process. Prints one table of
# target tokens/s (best of the measured steps) and the ratio ours / torch.
#
#   bash bench/compare_torchref.sh                    # train + decode, tiny and small, 1 and 2 threads
#   CONFIGS="tiny" THREADS="2" bash bench/compare_torchref.sh train
#   BUILD=build-mine bash bench/compare_torchref.sh decode   # another build directory
#
# Needs the reference set up once: bash ../shared/bench/torchref/bench.sh setup
# (installs python3-torch from Debian). Absolute numbers on a shared machine
# are noisy; the ratio measured in the same run is what to quote.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TORCHREF=${TORCHREF:-$ROOT/../shared/bench/torchref}
CONFIGS=${CONFIGS:-tiny small}
THREADS=${THREADS:-1 2}
SECTIONS=${*:-train decode}
BUILD=${BUILD:-$ROOT/build}
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
OUT=${OUT:-/tmp/moe-compare-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

[[ -f $TORCHREF/moe_transformer.py ]] || { echo "compare: no torchref at $TORCHREF (set TORCHREF)" >&2; exit 1; }
cmake --build "$BUILD" --target bench_model bench_decode -j"$(nproc)" >/dev/null ||
    { echo "compare: build first (bash scripts/build.sh)" >&2; exit 1; }

# The reference, through its own script (it picks OpenBLAS per process),
# one (config, threads) at a time right before ours for the same pair, so a
# change in the machine's load between the two sides stays small.
torch() { # config threads
    CONFIGS="$1" THREADS="$2" OUT="$OUT/torch-$1-t$2" QUICK=1 \
        bash "$TORCHREF/bench.sh" $SECTIONS >>"$OUT/torch.txt" 2>&1
}

ours() { # name command...
    local name=$1
    shift
    echo "=== $name" >>"$OUT/ours.txt"
    OMP_NUM_THREADS=$THREADS_NOW timeout 300 "$@" 2>&1 | sed "s/^RESULT /RESULT [$name] /" >>"$OUT/ours.txt"
}
for c in $CONFIGS; do
    for t in $THREADS; do
        torch "$c" "$t"
        THREADS_NOW=$t
        if [[ " $SECTIONS " == *" train "* ]]; then
            steps=5
            [[ $c == small* ]] && steps=3
            ours "train-$c-t$t" "$BUILD/bin/bench_model" --config "$c" --threads "$t" --warmup 1 --steps "$steps"
        fi
        if [[ " $SECTIONS " == *" decode "* ]]; then
            for b in 4 1; do
                # torchref: 32 sentences x 20 source tokens, EOS disabled, exactly 40 steps
                "$BUILD/bin/bench_decode" --config "$c" --beams "$b" --threads "$t" --sentences 32 \
                    --batch 32 --src-len 20 --fixed-src-len --max-length-a 0 --max-length-b 39 \
                    --min-length 39 --repeat 3 2>&1 |
                    awk -v n="decode-$c-b$b-t$t" -F'|' '$2 ~ /^ *(tiny|small) *$/ {gsub(/ /, "", $10); print "RESULT [" n "] tgt_tok/s best " $10}' \
                    >>"$OUT/ours.txt"
            done
        fi
    done
done

# "RESULT [name] ... tgt_tok/s best X med Y ..." -> name X
extract() { sed -n 's/^RESULT \[\([^]]*\)\].*tgt_tok\/s best \([0-9.]*\).*/\1 \2/p' "$1"; }
extract "$OUT/ours.txt" | sed 's/-adam//' | sort >"$OUT/ours.tsv"
extract "$OUT/torch.txt" | sed 's/-adam//' | sort >"$OUT/torch.tsv"
echo
echo "| measurement | moe-nmt tgt tok/s | PyTorch tgt tok/s | ratio |"
echo "|---|---:|---:|---:|"
join "$OUT/ours.tsv" "$OUT/torch.tsv" | awk '{ printf "| %s | %.0f | %.0f | %.2fx |\n", $1, $2, $3, ($3 > 0 ? $2 / $3 : 0) }'
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); logs in $OUT"
