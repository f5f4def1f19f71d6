#!/usr/bin/env bash
# The quality experiments behind the README's tables, run after the main command
# (they reuse its corpus, vocabulary and build):
#
#   bash scripts/experiments.sh repeat SEED       MoE and its dense twin, one more seed
#   bash scripts/experiments.sh bilingual LANG... a bilingual model per language,
#                                                 against the multilingual MoE
#   bash scripts/experiments.sh table             print every finished result
#
# Budgets are counted in updates, not minutes, so a run gives the same numbers
# on a busy machine (the runs can share the 2 cores, each on THREADS threads):
# MOE_STEPS / DENSE_STEPS default to the updates that the 12-minute wall-clock
# budget gave each recipe in the README's main run (615 and 575). Every update is
# a batch of at most 4096 tokens, and the dense twin has the MoE's per-token
# FLOPs, so equal updates mean equal compute. A bilingual model gets MOE_STEPS
# updates of its one language: the multilingual model's whole budget.
#
# Results: work/experiments/<name>/ (run directory, hypotheses, scores).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
OUT=work/experiments
MOE_STEPS=${MOE_STEPS:-615}
DENSE_STEPS=${DENSE_STEPS:-575}
THREADS=${THREADS:-0}
BEAM=${BEAM:-4}
corpus=work/corpus

die() { echo "experiments.sh: $*" >&2; exit 1; }
[[ -x $BIN/moe-train && -d $corpus/test && -f work/vocab/spm.model ]] ||
  die "run the README's main command first (it builds the binaries, $corpus and work/vocab)"
mkdir -p "$OUT"

# test_set LANG... -> lang<TAB>source<TAB>reference rows of those languages' test sets
test_set() {
  local lang
  for lang in "$@"; do
    [[ -f $corpus/test/$lang.tsv ]] || die "no test set for '$lang' in $corpus/test"
    awk -F'\t' -v l="$lang" '{print l "\t" $1 "\t" $2}' "$corpus/test/$lang.tsv"
  done
}

# train NAME RECIPE STEPS SEED [--set ...]: a step-budgeted run in $OUT/NAME/run
train() {
  local name=$1 recipe=$2 steps=$3 seed=$4
  shift 4
  mkdir -p "$OUT/$name"
  echo "== $name: $recipe, $steps updates, seed $seed [$(date +%T)]"
  $BIN/moe-train "$recipe" -q --set train.max_minutes=0 --set train.max_steps="$steps" \
    --set train.seed="$seed" --set train.threads="$THREADS" \
    --set checkpoint.dir="$PWD/$OUT/$name/run" "$@"
}

# score NAME TESTSET: translate TESTSET with $OUT/NAME/run, score per language
score() {
  local name=$1 testset=$2 dir=$OUT/$1
  local hyps=$dir/$(basename "$testset" .tsv).hyp
  if [[ ! -f $hyps || $hyps -ot $dir/run/checkpoints/latest || $hyps -ot $testset ]]; then
    cut -f1,2 "$testset" | $BIN/moe-translate -m "$dir/run" --tsv -b "$BEAM" -q \
      --threads "$THREADS" -o "$hyps.tmp"
    mv "$hyps.tmp" "$hyps"
  fi
  $BIN/moe-eval --tsv "$testset" -i "$hyps" -m bleu chrf -f text >"${hyps%.hyp}.scores.txt"
}

case ${1:-} in
  repeat)
    seed=${2:?usage: experiments.sh repeat SEED}
    test_set $(ls $corpus/test | sed 's/\.tsv$//') | awk -F'\t' '{n[$1]++} n[$1] <= 100' \
      >"$OUT/test-all.tsv"
    train "moe-8e-seed$seed" recipes/l10n-100/moe-8e.yaml "$MOE_STEPS" "$seed"
    score "moe-8e-seed$seed" "$OUT/test-all.tsv"
    train "dense-seed$seed" recipes/l10n-100/dense.yaml "$DENSE_STEPS" "$seed"
    score "dense-seed$seed" "$OUT/test-all.tsv"
    ;;
  bilingual)
    shift
    (($# > 0)) || die "usage: experiments.sh bilingual LANG..."
    for lang in "$@"; do
      test_set "$lang" >"$OUT/test-$lang.tsv.tmp" || exit 1
      mv "$OUT/test-$lang.tsv.tmp" "$OUT/test-$lang.tsv"
      train "bilingual-$lang" recipes/l10n-100/bilingual-xh.yaml "$MOE_STEPS" 1 \
        --set "data.langs=[$lang]"
      score "bilingual-$lang" "$OUT/test-$lang.tsv"
    done
    ;;
  table)
    # moe-eval's text table: "lang segments BLEU chrF2" rows, then "macro-avg N langs BLEU chrF2"
    row() { awk -v l="$2" '$1 == l {print $(NF-1), $NF; exit}' "$1" 2>/dev/null; }
    macro() { awk '$1 == "macro-avg" {print $(NF-1), $NF}' "$1" 2>/dev/null; }
    corpus_score() { awk '/^ *BLEU\|/ {b = $0; sub(/^[^=]*= /, "", b); sub(/ .*/, "", b)}
      /^chrF/ {c = $0; sub(/^[^=]*= /, "", c)} END {if (b != "") print b, c}' "$1" 2>/dev/null; }
    echo "MoE against its dense twin (test-all: every language's first 100 test pairs)"
    printf '%-16s %-14s %-14s\n' run "corpus BLEU chrF" "macro BLEU chrF"
    for f in "$OUT"/moe-8e-seed*/test-all.scores.txt "$OUT"/dense-seed*/test-all.scores.txt; do
      [[ -f $f ]] || continue
      printf '%-16s %-14s %-14s\n' "$(basename "$(dirname "$f")")" "$(corpus_score "$f")" "$(macro "$f")"
    done
    echo
    echo "Bilingual against multilingual (BLEU chrF on the language's test set)"
    printf '%-6s %7s %5s  %-12s' lang train test bilingual
    multi=("$OUT"/moe-8e-seed*/test-all.scores.txt)
    for m in "${multi[@]}"; do [[ -f $m ]] && printf ' %-12s' "$(basename "$(dirname "$m")")"; done
    echo
    for f in "$OUT"/bilingual-*/test-*.scores.txt; do
      [[ -f $f ]] || continue
      lang=$(basename "$(dirname "$f")"); lang=${lang#bilingual-}
      printf '%-6s %7s %5s  %-12s' "$lang" "$(wc -l <"$corpus/train/$lang.tsv")" \
        "$(wc -l <"$corpus/test/$lang.tsv")" "$(row "$f" "$lang")"
      for m in "${multi[@]}"; do [[ -f $m ]] && printf ' %-12s' "$(row "$m" "$lang")"; done
      echo
    done
    ;;
  *) die "usage: experiments.sh repeat SEED | bilingual LANG... | table" ;;
esac
