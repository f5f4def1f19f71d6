#!/usr/bin/env bash
# The README's main command: on a fresh Debian 12 machine, install what is
# missing, build, then run the whole job on the embedded default:
#   1. build the 100+-language X->English corpus from Debian's translation catalogs
#   2. train the shared SentencePiece vocabulary (temperature-sampled languages)
#   3. train the small MoE recipe (recipes/l10n-100/moe-8e.yaml, 12-minute budget)
#   4. translate every language's test set (the first TEST_PER_LANG pairs)
#   5. score with moe-eval: a per-language BLEU / chrF table and the macro average
# Restartable: a second run reuses the corpus, the vocabulary and the finished
# checkpoint, and redoes only what is missing.
#
# Environment: RECIPE (default recipes/l10n-100/moe-8e.yaml), TEST_PER_LANG
# (default 100), PACKAGES (default data/packages-core.txt), BEAM (default 4).
set -euo pipefail
cd "$(dirname "$0")/.."
RECIPE=${RECIPE:-recipes/l10n-100/moe-8e.yaml}
TEST_PER_LANG=${TEST_PER_LANG:-100}
PACKAGES=${PACKAGES:-data/packages-core.txt}
BEAM=${BEAM:-4}
WORK=work
BIN=build/bin
started=$(date +%s)
step() { echo; echo "== $* [$(date +%T), $(($(date +%s) - started)) s]"; }

step "0/5 install and build"
bash scripts/install-deps.sh
MOE_TARGETS="moe-tokenize moe-train moe-translate moe-eval" bash scripts/build.sh

# What the recipe says (paths in it are relative to the recipe file).
config=$($BIN/moe-train "$RECIPE" --dump-config)
key() { # key SECTION FIELD -> value from --dump-config
  awk -v s="$1:" -v f="$2:" '$1 == s && /^[a-z]/ {in_s = 1; next} /^[a-z]/ {in_s = 0}
    in_s && $1 == f {gsub(/"/, "", $2); print $2; exit}' <<<"$config"
}
corpus=$(key data corpus_dir)
vocab=$(key vocab model)
vocab_size=$(key model vocab)
run_dir=$(key checkpoint dir)

step "1/5 corpus: Debian translation catalogs of $PACKAGES -> $corpus"
$BIN/moe-tokenize corpus -l "$PACKAGES" -c "$WORK/cache/debs" -o "$corpus"
echo "languages: $(ls "$corpus/train" | wc -l), training pairs: $(cat "$corpus"/train/*.tsv | wc -l)"

step "2/5 vocabulary: $vocab ($vocab_size pieces)"
if [[ -f $vocab ]]; then
  echo "reusing $vocab"
else
  mkdir -p "$(dirname "$vocab")"
  $BIN/moe-tokenize train --corpus "$corpus" -o "${vocab%.model}" --vocab-size "$vocab_size" \
    --sentences 300000 --normalization identity
fi

step "3/5 train: $RECIPE -> $run_dir"
$BIN/moe-train "$RECIPE"

step "4/5 translate the test sets (at most $TEST_PER_LANG pairs a language, beam $BEAM)"
mkdir -p "$WORK/eval"
testset=$WORK/eval/test.tsv
for f in "$corpus"/test/*.tsv; do
  lang=$(basename "$f" .tsv)
  head -n "$TEST_PER_LANG" "$f" | awk -F'\t' -v l="$lang" '{print l "\t" $1 "\t" $2}'
done >"$testset.tmp"
if cmp -s "$testset.tmp" "$testset"; then rm "$testset.tmp"; else mv "$testset.tmp" "$testset"; fi
hyps=$WORK/eval/$(basename "$run_dir").hyp
latest="$run_dir/checkpoints/$(cat "$run_dir/checkpoints/latest")"
if [[ -f $hyps && $hyps -nt $latest && $hyps -nt $testset ]]; then
  echo "reusing $hyps"
else
  cut -f1,2 "$testset" | $BIN/moe-translate -m "$run_dir" --tsv -b "$BEAM" -o "$hyps.tmp"
  mv "$hyps.tmp" "$hyps"
fi

step "5/5 score: BLEU and chrF per language (sacreBLEU's definitions)"
$BIN/moe-eval --tsv "$testset" -i "$hyps" -m bleu chrf -f text
echo
echo "done in $(($(date +%s) - started)) s; training report: $run_dir/report.html"
