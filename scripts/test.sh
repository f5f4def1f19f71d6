#!/usr/bin/env bash
# The README's test command: install what is missing, build with warnings as
# errors, run the whole GoogleTest suite through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --tests
bash scripts/build.sh -DMOE_WERROR=ON
cd build
ctest --output-on-failure -j"$(nproc 2>/dev/null || echo 2)" --timeout 900
