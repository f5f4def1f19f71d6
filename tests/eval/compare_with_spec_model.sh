#!/usr/bin/env bash
# Prints the settings where moe-eval and tests/eval/spec_model.py disagree (nothing
# when they agree to 6 decimals). Usage: compare_with_spec_model.sh BUILD_DIR HYP REF...
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$1/bin/moe-eval"; hyp="$2"; shift 2
moe() {
  for tok in 13a intl zh char none; do for lc in "" "-lc"; do
    echo "bleu $tok $([ -n "$lc" ] && echo True || echo False) $("$bin" "$@" -i "$hyp" -tok $tok $lc -b -w 6 --force)"
  done; done
  for m in floor add-k none; do echo "bleu-s $m $("$bin" "$@" -i "$hyp" -s $m -b -w 6 --force)"; done
  echo "chrf 0 $("$bin" "$@" -i "$hyp" -m chrf -b -w 6)"
  echo "chrf 2 $("$bin" "$@" -i "$hyp" -m chrf -cw 2 -b -w 6)"
  echo "ter $("$bin" "$@" -i "$hyp" -m ter -b -w 6)"
}
diff <(python3 "$here/spec_model.py" "$hyp" "$@") <(moe "$@") && echo "moe-eval agrees with the spec model"
