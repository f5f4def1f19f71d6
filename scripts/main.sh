#!/usr/bin/env bash
# The README's main command: install what is missing, build, and run the main
# job on the bundled example (score a system output with moe-eval).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
echo "== moe-eval on examples/ (BLEU, chrF, TER, per language) =="
build/bin/moe-eval examples/newstest-mini.ref.en -i examples/newstest-mini.hyp.en \
  -m bleu chrf ter -f text
build/bin/moe-eval --tsv examples/newstest-mini.tsv -i examples/newstest-mini.hyp.en -m bleu chrf
