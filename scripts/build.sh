#!/usr/bin/env bash
# Configures and builds moe-nmt into ./build (Release, -march=native).
# Extra arguments go to cmake's configure step, e.g. -DMOE_WERROR=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$jobs"
