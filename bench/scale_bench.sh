#!/usr/bin/env bash
# Mesh scale benchmark (issue #7): training steps of a small MoE Transformer
# on 1..N MPI ranks with the experts sharded along "expert" (bench_mesh --mode
# step), as tables:
#
#   1. weak scaling, 1 / 2 / 4 ranks, E = 2 x ranks, the same tokens per rank:
#      step time, its all-to-all and all-reduce shares, all-to-all MiB per step
#      (GShard: independent of E), peak RSS per rank;
#   2. a simulated larger mesh, 1 / 2 / 4 / 8 / 16 ranks of tiny dims: per-rank
#      peak RSS and expert parameters stay flat while the model's experts grow
#      with the ranks, next to moe-train --plan's predicted memory per device;
#   3. gradient all-reduce overlapped with backward or not, on {data: 2}.
#
#   bash bench/scale_bench.sh [BUILD_DIR]    (default build; needs bench_mesh, moe-train, mpirun)
#   STEPS=5 SERIES="weak memory overlap" bash bench/scale_bench.sh build
#
# Every rank runs 1 thread. On a machine with fewer cores than ranks, mpirun
# --oversubscribe time-slices them: step times then grow with the ranks by
# the oversubscription alone, and the all-to-all time includes waiting for
# descheduled peers. Read the byte and memory columns as the scaling result
# and the times as what this machine shows.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BENCH=$BUILD/bin/bench_mesh
TRAIN=$BUILD/bin/moe-train
STEPS=${STEPS:-5}
SERIES=${SERIES:-weak memory overlap}
for bin in "$BENCH" "$TRAIN"; do
  [[ -x $bin ]] || { echo "scale_bench.sh: $bin is missing (cmake --build $BUILD --target bench_mesh moe-train)" >&2; exit 1; }
done
command -v mpirun >/dev/null || { echo "scale_bench.sh: mpirun not found (apt-get install openmpi-bin)" >&2; exit 1; }
# Root in CI containers; containers without CAP_SYS_PTRACE forbid CMA.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMP_NUM_THREADS=1
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# run FILE RANKS ARGS...: one bench_mesh job, its STEP line appended to FILE.
run() {
  local file=$1 ranks=$2
  shift 2
  timeout -k 5 600 mpirun --oversubscribe -np "$ranks" "$BENCH" --mode step --steps "$STEPS" \
    --threads 1 "$@" | grep '^STEP ' >>"$file"
}

# plan RANKS ARGS...: moe-train --plan of the same shapes, as JSON.
plan() {
  local ranks=$1
  shift
  "$TRAIN" recipes/l10n-100/moe-8e.yaml --plan --format json --mesh "expert=$ranks" "$@"
}

table() {  # table FILE TITLE COLUMNS...: the STEP lines of FILE as a Markdown table
  python3 - "$@" <<'PY'
import sys
path, title, columns = sys.argv[1], sys.argv[2], sys.argv[3:]
def number(v):
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v
rows = [{k: number(v) for k, v in (kv.split("=", 1) for kv in line.split()[1:])} for line in open(path)]
print(f"\n### {title}\n")
print("| " + " | ".join(c.split(":")[0] for c in columns) + " |")
print("|" + "---:|" * len(columns))
for r in rows:
    cells = []
    for c in columns:
        name, _, expr = c.partition(":")
        cells.append(str(eval(expr, {}, r)) if expr else str(r.get(name, "-")))
    print("| " + " | ".join(cells) + " |")
PY
}

if [[ " $SERIES " == *" weak "* ]]; then
  # torchref tiny dims (d 256, ffn 1024, 3+3 layers, V 8000), 16 sentences of 16+16 tokens per rank.
  WEAK=(--d-model 256 --ffn 1024 --layers 3 --heads 4 --vocab 8000 --batch 16 --src-len 16 --tgt-len 16 --experts-per-rank 2)
  for ranks in 1 2 4; do run "$OUT/weak" "$ranks" --mesh "expert=$ranks" "${WEAK[@]}"; done
  table "$OUT/weak" "Weak scaling: E = 2 x ranks, 512 tokens per rank, d 256, 3+3 layers (1 thread per rank)" \
    ranks E "step s:step_s" "fwd s:fwd_s" "bwd s:bwd_s" "grad sync s:sync_s" \
    "a2a calls:a2a_calls" "a2a MiB/step:a2a_MiB" "a2a off-rank MiB:a2a_offrank_MiB" \
    "a2a share:f'{100*a2a_share:.0f} %'" "all-reduce MiB:ar_MiB" "all-reduce share:f'{100*ar_s/step_s:.0f} %'" \
    "peak RSS MiB (max):rss_max_MiB"
fi

if [[ " $SERIES " == *" memory "* ]]; then
  # Tiny dims with wide experts (ffn 1024), so that experts dominate the parameters.
  MEM=(--d-model 64 --ffn 1024 --layers 2 --heads 4 --vocab 1000 --batch 8 --src-len 16 --tgt-len 16 --experts-per-rank 2)
  for ranks in 1 2 4 8 16; do
    run "$OUT/memory" "$ranks" --mesh "expert=$ranks" "${MEM[@]}"
    plan "$ranks" --set model.d_model=64 --set model.ffn_dim=1024 --set model.heads=4 \
      --set model.enc_layers=2 --set model.dec_layers=2 --set model.vocab=1000 \
      --set model.moe.num_experts=$((2 * ranks)) --set model.moe.group_size=128 \
      --set data.max_len=16 --set train.batch_tokens=$((128 * ranks)) --set optimizer.name=adafactor \
      | python3 -c 'import json,sys; p=json.load(sys.stdin); m=p["memory_per_device"]; print("plan_total_MiB=%.1f plan_params_per_device=%d plan_a2a_MiB=%.3f" % (m["total"]/2**20, p["params"]["per_device"], p["moe"]["all_to_all_bytes_per_micro_batch"]/2**20))' \
      >>"$OUT/plan"
  done
  paste -d' ' "$OUT/memory" "$OUT/plan" >"$OUT/memory+plan"
  table "$OUT/memory+plan" "Simulated larger mesh: E = 2 x ranks, tiny dims (d 64, ffn 1024, 2+2 layers), 256 tokens per rank" \
    ranks E "params/rank:params_per_rank" "expert params/rank:expert_params_per_rank" \
    "expert params, all ranks:int(expert_params_per_rank*ranks)" "plan params/device:plan_params_per_device" \
    "peak RSS MiB max:rss_max_MiB" "peak RSS MiB min:rss_min_MiB" "plan MiB/device:plan_total_MiB" \
    "a2a MiB/step:a2a_MiB" "plan a2a MiB:plan_a2a_MiB" "step s:step_s"
fi

if [[ " $SERIES " == *" overlap "* ]]; then
  # {data: 2}: every gradient is all-reduced over both ranks; the same job with
  # the all-reduce started block by block during backward, and after it.
  OVL=(--mesh data=2 --d-model 256 --ffn 1024 --layers 3 --heads 4 --vocab 8000 --batch 16 --src-len 16 --tgt-len 16 --experts-per-rank 2)
  for round in 1 2; do
    for overlap in off on; do run "$OUT/overlap" 2 "${OVL[@]}" --overlap "$overlap"; done
  done
  table "$OUT/overlap" "Gradient all-reduce overlap, {data: 2}, d 256, 3+3 layers, 4 MiB buckets (two rounds, alternating)" \
    overlap "buckets:buckets" "step s:step_s" "bwd s:bwd_s" "grad sync (finish) s:sync_s" \
    "all-reduce MiB:ar_MiB" "in all-reduce s:ar_s" "loss:loss"
fi
