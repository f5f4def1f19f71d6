#!/usr/bin/env bash
# Configures and builds moe-nmt into ./build (Release, -march=native).
# Extra arguments go to cmake's configure step, e.g. -DMOE_WERROR=ON.
# MOE_TARGETS="a b" builds only those targets (default: everything).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
if [[ -n ${MOE_TARGETS:-} ]]; then
  # shellcheck disable=SC2086
  cmake --build build -j"$jobs" --target $MOE_TARGETS
else
  cmake --build build -j"$jobs"
fi
