#!/usr/bin/env bash
# Training speed and memory of the small runnable recipes on the real corpus
# (issue #6): runs moe-train for a fixed number of steps per recipe in a
# scratch run directory and prints, per recipe, target tokens/s, ms/step,
# where the step time went (GEMMs, data, MoE routing / dispatch / combine,
# all-to-all, optimiser, gradient all-reduce, the rest), the peak RSS next to
# the --plan's predicted memory, and PASS/FAIL for "the step waits on data
# less than 2% of the time".
#
#   bash bench/train_bench.sh                      # moe-8e and dense, 5 warm-up + 40 measured steps
#   STEPS=60 WARMUP=3 THREADS=1 bash bench/train_bench.sh recipes/l10n-100/moe-8e.yaml
#
# Needs the corpus and vocabulary of the main command (work/corpus,
# work/vocab/spm.model: bash scripts/main.sh builds them) and a build
# (BUILD=build by default). Each run starts from scratch (no resume, no
# validation, no checkpoint until the end), with every step logged to
# metrics.jsonl; the warm-up steps are left out of every number. The
# encoded corpus is cached in $BENCH_DIR/cache across runs (the first run
# copies the main run's cache if it has one, else encodes, about a minute).
# Exit status: 0, or 1 when a recipe fails or the data check fails.
# Timings from a machine shared with other work are noisy: compare recipes
# measured in the same run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
STEPS=${STEPS:-40}
WARMUP=${WARMUP:-5}
THREADS=${THREADS:-}
CORPUS=${CORPUS:-$ROOT/work/corpus}
VOCAB=${VOCAB:-$ROOT/work/vocab/spm.model}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/moe-train-bench}
DATA_LIMIT=${DATA_LIMIT:-2}  # percent of step time the step may wait on data
if (($# > 0)); then RECIPES=("$@"); else RECIPES=(recipes/l10n-100/moe-8e.yaml recipes/l10n-100/dense.yaml); fi

fail() { echo "train_bench: $*" >&2; exit 1; }
[[ $STEPS =~ ^[1-9][0-9]*$ ]] || fail "STEPS=$STEPS: a positive number of measured steps"
[[ $WARMUP =~ ^[0-9]+$ ]] || fail "WARMUP=$WARMUP: a number of warm-up steps"
[[ -d $CORPUS/train ]] ||
    fail "no corpus at $CORPUS (no train/ folder): build it first with the main command, bash scripts/main.sh"
[[ -f $VOCAB ]] || fail "no vocabulary at $VOCAB: build it first with the main command, bash scripts/main.sh"
TRAIN=$BUILD/bin/moe-train
[[ -x $TRAIN ]] || fail "no $TRAIN: build first (bash scripts/build.sh, or BUILD=your build folder)"
command -v python3 >/dev/null || fail "python3 is needed to read metrics.jsonl (scripts/install-deps.sh installs it)"

mkdir -p "$BENCH_DIR/cache"
if [[ -z $(ls -A "$BENCH_DIR/cache") ]]; then
    # Reuse an encoding of the corpus a main-command run made (a copy: the
    # bench never writes under work/); stale files are re-encoded by moe-train.
    for c in "$ROOT"/work/runs/*/cache; do
        if [[ -d $c && -n $(ls -A "$c") ]]; then
            echo "train_bench: copying the encoded corpus from $c" >&2
            cp -p "$c"/* "$BENCH_DIR/cache/"
            break
        fi
    done
fi

SETS=(--set "data.corpus_dir=$CORPUS" --set "vocab.model=$VOCAB")
[[ -n $THREADS ]] && SETS+=(--set "train.threads=$THREADS")
RESULTS=()
status=0
for recipe in "${RECIPES[@]}"; do
    [[ -f $recipe ]] || fail "no recipe $recipe"
    name=$(basename "$recipe" .yaml)
    run=$BENCH_DIR/runs/$name
    rm -rf "$run"
    mkdir -p "$run"
    ln -s "$BENCH_DIR/cache" "$run/cache"
    plan=$BENCH_DIR/$name.plan.json
    "$TRAIN" "$recipe" "${SETS[@]}" --plan --format json >"$plan" || fail "$recipe: moe-train --plan failed"
    echo "train_bench: $name: $WARMUP warm-up + $STEPS measured steps in $run" >&2
    if ! "$TRAIN" "$recipe" -q --no-resume "${SETS[@]}" --set "checkpoint.dir=$run" \
        --set "train.max_steps=$((WARMUP + STEPS))" --set train.max_minutes=0 --set train.max_tokens=0 \
        --set train.log_every=1 --set eval.every=0 --set checkpoint.every=1000000000 \
        >"$run/train.log" 2>&1; then
        echo "train_bench: $recipe: moe-train failed; the last lines of $run/train.log:" >&2
        tail -5 "$run/train.log" >&2
        status=1
        continue
    fi
    RESULTS+=("$name" "$run/metrics.jsonl" "$plan")
done
((${#RESULTS[@]} > 0)) || exit 1

python3 - "$WARMUP" "$DATA_LIMIT" "$BENCH_DIR/cache" "${RESULTS[@]}" <<'PY' || status=1
import json, os, sys

warmup, limit, cache = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
args = sys.argv[4:]
runs = [args[i:i + 3] for i in range(0, len(args), 3)]
mib = 1 << 20
# The encoded corpus lives in memory for the whole run: its cache files'
# size (int32 ids and offsets) is what it takes there, besides the model.
corpus_mib = sum(os.path.getsize(os.path.join(cache, f)) for f in os.listdir(cache)) / mib

cols, failed = [], False
for name, metrics, plan in runs:
    recs = [json.loads(l) for l in open(metrics)]
    recs = [r for r in recs if r.get("type") == "train"]
    measured = [r for r in recs if r["step"] > warmup]
    if not measured:
        sys.exit(f"train_bench: {metrics}: no steps after the {warmup} warm-up steps")
    t = {}
    for r in measured:
        for k, v in r["time_s"].items():
            t[k] = t.get(k, 0.0) + v
    before = [r for r in recs if r["step"] <= warmup]
    tokens = measured[-1]["tokens"] - (before[-1]["tokens"] if before else 0)
    steps = sum(r["steps_in_window"] for r in measured)
    total = t["total"]
    share = lambda s: 100.0 * s / total
    fwd_bwd = t["forward"] + t["backward"]
    gemm, routing, a2a = t.get("gemm", float("nan")), t.get("moe_routing", 0.0), t.get("moe_exchange", 0.0)
    data = t["data_wait"] + t["batch"]
    optim = t["optimizer"] + t["clip"]
    other_compute = fwd_bwd - gemm - routing - a2a
    rest = total - fwd_bwd - data - optim - t["grad_reduce"] - t["validation"] - t["checkpoint"]
    p = json.load(open(plan))["memory_per_device"]
    ok = share(data) < limit
    failed |= not ok
    cols.append((name, [
        f"{tokens / total:.0f}",
        f"{1000 * total / steps:.0f}",
        f"{tokens / steps:.0f}",
        f"{share(gemm):.1f}",
        f"{100 - share(gemm):.1f}",
        f"{share(data):.2f}",
        f"{share(t['data_wait']):.2f}",
        f"{share(routing):.1f}",
        f"{share(a2a):.1f}",
        f"{share(optim):.1f}",
        f"{share(t['grad_reduce']):.1f}",
        f"{share(other_compute):.1f}",
        f"{share(rest):.1f}",
        f"{measured[-1]['peak_rss_mib']:.0f}",
        f"{p['total'] / mib:.0f}",
        f"{p['total'] / mib + corpus_mib:.0f}",
        f"PASS ({share(data):.2f}% < {limit:g}%)" if ok else f"FAIL ({share(data):.2f}% >= {limit:g}%)",
    ]))

rows = [
    "target tokens/s", "ms/step", "target tokens/step", "GEMM % of step", "outside GEMMs %",
    "  data (wait + batch) %", "    of which waiting %", "  MoE routing/dispatch/combine %", "  MoE all-to-all %",
    "  optimizer + clipping %", "  gradient all-reduce %", "  other forward/backward %", "  rest (logging, loop) %",
    "peak RSS MiB", "--plan memory MiB (model)", "  + encoded corpus MiB", "data-wait check",
]
width = max(len(r) for r in rows)
cw = [max(len(n), *(len(v) for v in vals)) for n, vals in cols]
print(f"training benchmark: {steps} measured steps per recipe after {warmup} warm-up steps, rank 0's times")
print(f"{'':<{width}}  " + "  ".join(f"{n:>{w}}" for (n, _), w in zip(cols, cw)))
for i, row in enumerate(rows):
    print(f"{row:<{width}}  " + "  ".join(f"{vals[i]:>{w}}" for (_, vals), w in zip(cols, cw)))
sys.exit(1 if failed else 0)
PY
exit $status
