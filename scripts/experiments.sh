#!/usr/bin/env bash
# The quality experiments behind the README's tables, run after the main command
# (they reuse its corpus, vocabulary and build):
#
#   bash scripts/experiments.sh repeat SEED       MoE and its dense twin, one more seed
#   bash scripts/experiments.sh bilingual LANG... a bilingual model per language,
#                                                 against the multilingual MoE
#   bash scripts/experiments.sh alpha NAME...     each finished run's length penalty
#                                                 tuned on dev, then its test scores
#   bash scripts/experiments.sh longer STEPS NAME...  finished runs continued to
#                                                 STEPS updates (NAME-STEPS), then scored
#   bash scripts/experiments.sh copies [NAME...]  how many test hypotheses are
#                                                 training targets, verbatim
#   bash scripts/experiments.sh pooled LANG...   their test sets as one: bilingual against
#                                                 multilingual, with paired bootstrap
#   bash scripts/experiments.sh near LANG...     how close each test reference is to the
#                                                 language's own training English
#   bash scripts/experiments.sh lowest MIN_TEST   the 10 lowest-resource languages with at
#                                                 least MIN_TEST test pairs
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

# split_set SPLIT LANG... -> lang<TAB>source<TAB>reference rows of those languages' SPLIT
split_set() {
  local split=$1 lang
  shift
  for lang in "$@"; do
    [[ -f $corpus/$split/$lang.tsv ]] || die "no $split set for '$lang' in $corpus/$split"
    awk -F'\t' -v l="$lang" '{print l "\t" $1 "\t" $2}' "$corpus/$split/$lang.tsv"
  done
}
test_set() { split_set test "$@"; }
# first_per_lang N: the first N rows of each language of a lang<TAB>... stream
first_per_lang() { awk -F'\t' -v n="$1" '{k[$1]++} k[$1] <= n'; }
# refresh FILE: stdin becomes FILE only if it differs, so a set that did not
# change keeps its date and the hypotheses made from it stay valid (score).
refresh() {
  cat >"$1.tmp"
  if cmp -s "$1.tmp" "$1"; then rm "$1.tmp"; else mv "$1.tmp" "$1"; fi
}
# Every language's first 100 test pairs: the multilingual runs' test set.
test_all() { test_set $(ls $corpus/test | sed 's/\.tsv$//') | first_per_lang 100 | refresh "$OUT/test-all.tsv"; }

# lowest MIN_TEST: the 10 languages with the fewest training pairs among those
# with at least MIN_TEST test pairs (ties by code)
lowest() {
  awk -F'\t' -v m="$1" 'NR > 1 && $4 >= m {print $2 "\t" $1}' "$corpus/stats.tsv" |
    sort -k1,1n -k2,2 | head -n 10 | cut -f2
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

# score NAME TESTSET [ALPHA]: translate TESTSET with $OUT/NAME/run (length
# penalty ALPHA, moe-translate's default without), score per language
score() {
  local name=$1 testset=$2 alpha=${3:-} dir=$OUT/$1
  local hyps=$dir/$(basename "$testset" .tsv)${alpha:+.alpha$alpha}.hyp
  if [[ ! -f $hyps || $hyps -ot $dir/run/checkpoints/latest || $hyps -ot $testset ]]; then
    cut -f1,2 "$testset" | $BIN/moe-translate -m "$dir/run" --tsv -b "$BEAM" -q \
      --threads "$THREADS" ${alpha:+--alpha "$alpha"} -o "$hyps.tmp"
    mv "$hyps.tmp" "$hyps"
  fi
  $BIN/moe-eval --tsv "$testset" -i "$hyps" -m bleu chrf -f text >"${hyps%.hyp}.scores.txt"
}

case ${1:-} in
  repeat)
    seed=${2:?usage: experiments.sh repeat SEED}
    test_all
    train "moe-8e-seed$seed" recipes/l10n-100/moe-8e.yaml "$MOE_STEPS" "$seed"
    score "moe-8e-seed$seed" "$OUT/test-all.tsv"
    train "dense-seed$seed" recipes/l10n-100/dense.yaml "$DENSE_STEPS" "$seed"
    score "dense-seed$seed" "$OUT/test-all.tsv"
    ;;
  bilingual)
    shift
    (($# > 0)) || die "usage: experiments.sh bilingual LANG..."
    for lang in "$@"; do  # all checked before the first run starts
      [[ -f $corpus/test/$lang.tsv ]] || die "no test set for '$lang' in $corpus/test"
    done
    for lang in "$@"; do
      test_set "$lang" | refresh "$OUT/test-$lang.tsv"
      train "bilingual-$lang" recipes/l10n-100/bilingual-xh.yaml "$MOE_STEPS" 1 \
        --set "data.langs=[$lang]"
      score "bilingual-$lang" "$OUT/test-$lang.tsv"
    done
    ;;
  alpha)
    # Output lengths differ a lot between runs (brevity penalty 0.4-0.9), so
    # a fair comparison lets each model decode with the length penalty that
    # suits it: the alpha with the best macro BLEU on a dev sample (each
    # language's first 30 dev pairs), then the test scores with that alpha.
    shift
    (($# > 0)) || die "usage: experiments.sh alpha NAME... (names of finished runs in $OUT)"
    split_set dev $(ls $corpus/dev | sed 's/\.tsv$//') | first_per_lang 30 | refresh "$OUT/dev-sample.tsv"
    test_all
    for name in "$@"; do
      [[ -f $OUT/$name/run/checkpoints/latest ]] || die "no finished run '$name' in $OUT"
      best="" best_bleu=-1
      for a in ${ALPHAS:-0.6 1.0 1.5 2.0 2.5 3.0}; do
        score "$name" "$OUT/dev-sample.tsv" "$a"
        bleu=$(awk '$1 == "macro-avg" {print $(NF-1)}' "$OUT/$name/dev-sample.alpha$a.scores.txt")
        echo "$name: alpha $a, dev macro BLEU $bleu"
        if awk -v x="$bleu" -v y="$best_bleu" 'BEGIN {exit !(x > y)}'; then best=$a best_bleu=$bleu; fi
      done
      echo "$best" >"$OUT/$name/best-alpha"
      score "$name" "$OUT/test-all.tsv" "$best"
      echo "$name: alpha $best on test: $(awk '$1 == "macro-avg" {print "macro BLEU", $(NF-1), "chrF", $NF}' \
        "$OUT/$name/test-all.alpha$best.scores.txt")"
    done
    ;;
  longer)
    # A larger budget without starting over: the learning rate is flat for the
    # first 10k updates (rsqrt_plateau) and a resumed run repeats the
    # uninterrupted loss curve bit for bit (tests/cli/train_test.cpp), so
    # continuing NAME to STEPS updates is training for STEPS updates from the
    # start. Each NAME-STEPS starts from the longest NAME or NAME-K (K < STEPS)
    # there is, so 1230 then 2460 costs 2460 updates in all.
    steps=${2:-}
    [[ $steps =~ ^[1-9][0-9]*$ ]] || die "usage: experiments.sh longer STEPS NAME... (STEPS > 0)"
    shift 2
    (($# > 0)) || die "usage: experiments.sh longer STEPS NAME..."
    for name in "$@"; do
      case $name in
        moe-8e-seed*) recipe=recipes/l10n-100/moe-8e.yaml seed=${name#moe-8e-seed} sets=() testset=$OUT/test-all.tsv ;;
        dense-seed*) recipe=recipes/l10n-100/dense.yaml seed=${name#dense-seed} sets=() testset=$OUT/test-all.tsv ;;
        bilingual-*) recipe=recipes/l10n-100/bilingual-xh.yaml seed=1 sets=(--set "data.langs=[${name#bilingual-}]")
          testset=$OUT/test-${name#bilingual-}.tsv ;;
        *) die "'$name' is not a run that experiments.sh makes (moe-8e-seedN, dense-seedN, bilingual-LANG)" ;;
      esac
      [[ $seed =~ ^[0-9]+$ ]] || die "'$name': no seed in the name"
      [[ -f $OUT/$name/run/checkpoints/latest && -f $testset ]] || die "no finished run '$name' in $OUT"
      done_steps=$(sed -n 's/^step-0*\([0-9][0-9]*\)$/\1/p' "$OUT/$name/run/checkpoints/latest")
      [[ -n $done_steps ]] || die "$OUT/$name/run/checkpoints/latest: not a step-N checkpoint name"
      ((steps > done_steps)) || die "'$name' already has $done_steps updates; STEPS must be more"
      from=$name
      for d in "$OUT/$name"-*/run/checkpoints/latest; do
        [[ -f $d ]] || continue
        k=${d#"$OUT/$name"-}; k=${k%%/*}
        [[ $k =~ ^[0-9]+$ ]] && ((k < steps)) && [[ $from == "$name" || $k -gt ${from##*-} ]] && from=$name-$k
      done
      if [[ ! -d $OUT/$name-$steps/run ]]; then  # else it resumes itself
        echo "== $name-$steps continues $from"
        mkdir -p "$OUT/$name-$steps"
        cp -a "$OUT/$from/run" "$OUT/$name-$steps/run.tmp"
        mv "$OUT/$name-$steps/run.tmp" "$OUT/$name-$steps/run"
      fi
      [[ $testset == "$OUT/test-all.tsv" ]] && test_all
      train "$name-$steps" "$recipe" "$steps" "$seed" "${sets[@]}"
      score "$name-$steps" "$testset"
    done
    ;;
  copies)
    # How often a run's test hypothesis is, verbatim, the English side of a
    # training pair. The split goes by English sentence (docs/corpus.md), so no
    # test reference is one (the last count checks it): such a hypothesis is
    # never the reference, but a sentence that the decoder recalled whole.
    # Every language translates the same ~78k English sentences, so the
    # multilingual model meets each of them dozens of times, paired with
    # sources that it mostly cannot read yet.
    shift
    names=("$@")
    if ((${#names[@]} == 0)); then  # every run scored at the default length penalty
      for f in "$OUT"/*/test-*.hyp; do
        [[ -f $f && $f != *.alpha*.hyp ]] && names+=("$(basename "$(dirname "$f")")")
      done
      ((${#names[@]} > 0)) || die "no scored run in $OUT yet (experiments.sh repeat SEED, bilingual LANG...)"
    fi
    mapfile -t low < <(lowest 50)  # the README's 10 lowest-resource languages
    for name in "${names[@]}"; do
      if [[ $name =~ ^bilingual-(.+)-[0-9]+$ || $name =~ ^bilingual-(.+)$ ]]; then
        testset=$OUT/test-${BASH_REMATCH[1]}.tsv
      else
        testset=$OUT/test-all.tsv
      fi
      hyps=$OUT/$name/$(basename "$testset" .tsv).hyp
      [[ -f $hyps && -f $testset ]] || die "no test hypotheses for '$name' in $OUT/$name"
      printf '%-22s ' "$name"
      pairs=$OUT/$name/copies.tsv  # reference<TAB>hypothesis of each copy
      awk -F'\t' -v langs="${low[*]}" -v pairs="$pairs" '
        BEGIN { n = split(langs, l, " "); for (i = 1; i <= n; i++) low[l[i]] = 1; printf "" >pairs }
        FNR == NR { train[$0] = 1; next }
        { all++; copy = $3 in train; copies += copy; refs += $2 in train
          if (copy) print $2 "\t" $3 >pairs
          if ($1 in low) { low_all++; low_copies += copy } }
        END {
          printf "%d of %d hypotheses are training targets (%.0f %%)", copies, all, 100 * copies / all
          if (low_all && low_all < all)
            printf "; in the languages of lowest 50 %d of %d (%.0f %%)", low_copies, low_all, 100 * low_copies / low_all
          printf "; references: %d\n", refs
        }' <(cut -f2 "$corpus"/train/*.tsv) <(paste <(cut -f1,3 "$testset") "$hyps")
      # A bilingual model's copy can be a near twin of the reference (the
      # catalogs repeat themselves: see near); a recalled sentence is not.
      python3 - "$pairs" <<'PY'
import difflib, statistics, sys
with open(sys.argv[1], encoding="utf-8", newline="") as f:
    sims = [difflib.SequenceMatcher(None, *line.rstrip("\n").split("\t", 1)).ratio() for line in f]
if sims:
    print(f"{'':22s} a copy against its reference: median similarity {statistics.median(sims):.2f},"
          f" {sum(x >= 0.8 for x in sims)} of {len(sims)} at 0.8 or more (difflib)")
PY
    done
    ;;
  pooled)
    # The given languages' test sets as one, bilingual against every
    # multilingual run: the lowest-resource languages have 1-20 test pairs
    # each, too few for a per-language verdict, so moe-eval's paired bootstrap
    # resampling judges the pooled sentences (CI and p-value per system).
    # Each language counts with the test pairs that test-all has of it (its
    # first 100); the bilingual run was scored on the same pairs first.
    shift
    (($# > 0)) || die "usage: experiments.sh pooled LANG... (languages with a bilingual run)"
    test_all
    lines() { wc -l <"$1"; }
    multi=()
    for f in "$OUT"/moe-8e-seed*/test-all.hyp "$OUT"/dense-seed*/test-all.hyp; do
      [[ -f $f ]] && (($(lines "$f") == $(lines "$OUT/test-all.tsv"))) && multi+=("$(basename "$(dirname "$f")")")
    done
    ((${#multi[@]} > 0)) || die "no multilingual run scored on $OUT/test-all.tsv (experiments.sh repeat SEED)"
    mapfile -t multi < <(printf '%s\n' "${multi[@]}" | sort -V)  # seed3 before seed3-1230
    pool=$(mktemp -d)
    trap 'rm -rf "$pool"' EXIT
    for lang in "$@"; do
      bi=$OUT/bilingual-$lang/test-$lang.hyp
      if [[ ! -f $bi ]] || (($(lines "$bi") != $(lines "$OUT/test-$lang.tsv"))); then
        die "no test hypotheses for '$lang' in $OUT/bilingual-$lang (experiments.sh bilingual $lang)"
      fi
      awk -F'\t' -v l="$lang" '$1 == l' "$OUT/test-all.tsv" >"$pool/rows"
      n=$(lines "$pool/rows")
      ((n > 0)) || die "'$lang' has no test pairs in $OUT/test-all.tsv"
      head -n "$n" "$OUT/test-$lang.tsv" | cmp -s - "$pool/rows" ||
        die "$OUT/test-$lang.tsv does not start with the '$lang' rows of $OUT/test-all.tsv"
      cut -f3 "$pool/rows" >>"$pool/references"
      head -n "$n" "$bi" >>"$pool/bilingual-$MOE_STEPS"
      for name in "${multi[@]}"; do
        paste <(cut -f1 "$OUT/test-all.tsv") "$OUT/$name/test-all.hyp" |
          awk -F'\t' -v l="$lang" '$1 == l {print $2}' >>"$pool/$name"
      done
    done
    echo "Pooled test sets of $*: $(lines "$pool/references") sentences;" \
      "bilingual runs of $MOE_STEPS updates (the baseline) against each multilingual run"
    (cd "$pool" && "$OLDPWD/$BIN/moe-eval" references -i "bilingual-$MOE_STEPS" "${multi[@]}" \
      -m bleu chrf --paired-bs -f text)
    ;;
  near)
    # Why a bilingual model does so well on a few thousand pairs: Debian's
    # catalogs repeat themselves (the same message with a word or two
    # changed), so many test references have a near twin among the
    # English sides of their own language's training pairs, and a model that
    # spends every update on that language learns those pairs by heart.
    # Similarity: Python's difflib ratio (2 * matching characters / total).
    shift
    (($# > 0)) || die "usage: experiments.sh near LANG..."
    for lang in "$@"; do
      [[ -f $corpus/test/$lang.tsv ]] || die "no test set for '$lang' in $corpus/test"
    done
    python3 - "$corpus" "$@" <<'PY'
import difflib, statistics, sys
corpus, langs = sys.argv[1], sys.argv[2:]
def english(path):
    with open(path, encoding="utf-8", newline="") as f:
        return [line.rstrip("\n").split("\t")[1] for line in f]
print("lang   train-en  test  median nearest  >= 0.8  >= 0.9  (references against their language's training English)")
for lang in langs:
    train = sorted(set(english(f"{corpus}/train/{lang}.tsv")))
    nearest = []
    for ref in english(f"{corpus}/test/{lang}.tsv"):
        matcher, best = difflib.SequenceMatcher(None, b=ref, autojunk=False), 0.0
        for t in train:
            matcher.set_seq1(t)
            if matcher.real_quick_ratio() > best and matcher.quick_ratio() > best:
                best = max(best, matcher.ratio())
        nearest.append(best)
    n = len(nearest)
    print(f"{lang:<6} {len(train):>8} {n:>5}  {statistics.median(nearest):>14.2f}"
          f"  {sum(r >= 0.8 for r in nearest) / n:>6.0%}  {sum(r >= 0.9 for r in nearest) / n:>6.0%}")
PY
    ;;
  lowest)
    # for bilingual and pooled: bash scripts/experiments.sh bilingual $(bash scripts/experiments.sh lowest 50)
    min_test=${2:-}
    [[ $min_test =~ ^[0-9]+$ ]] || die "usage: experiments.sh lowest MIN_TEST_PAIRS"
    lowest "$min_test"
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
      best=$(cat "$(dirname "$f")/best-alpha" 2>/dev/null) || continue
      tuned=$(dirname "$f")/test-all.alpha$best.scores.txt
      [[ -f $tuned ]] && printf '%-16s %-14s %-14s\n' "  alpha $best" "$(corpus_score "$tuned")" "$(macro "$tuned")"
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
      [[ $lang =~ -[0-9]+$ ]] && continue  # a longer run: below
      printf '%-6s %7s %5s  %-12s' "$lang" "$(wc -l <"$corpus/train/$lang.tsv")" \
        "$(wc -l <"$corpus/test/$lang.tsv")" "$(row "$f" "$lang")"
      for m in "${multi[@]}"; do [[ -f $m ]] && printf ' %-12s' "$(row "$m" "$lang")"; done
      echo
    done
    echo
    echo "Longer budgets (longer STEPS NAME): bilingual against multilingual at the same updates"
    printf '%-6s %7s  %-12s %s\n' lang updates bilingual "multilingual (moe-8e-seedN-STEPS)"
    for f in "$OUT"/bilingual-*-*/test-*.scores.txt; do
      [[ -f $f ]] || continue
      name=$(basename "$(dirname "$f")")
      [[ $name =~ ^bilingual-(.+)-([0-9]+)$ ]] || continue
      lang=${BASH_REMATCH[1]} steps=${BASH_REMATCH[2]}
      printf '%-6s %7s  %-12s' "$lang" "$steps" "$(row "$f" "$lang")"
      for m in "$OUT"/moe-8e-seed*-"$steps"/test-all.scores.txt; do
        [[ -f $m ]] && printf ' %s: %s' "$(basename "$(dirname "$m")")" "$(row "$m" "$lang")"
      done
      echo
    done
    ;;
  *) die "usage: experiments.sh repeat SEED | bilingual LANG... | alpha NAME... | longer STEPS NAME... | copies [NAME...] | pooled LANG... | near LANG... | lowest MIN_TEST | table" ;;
esac
