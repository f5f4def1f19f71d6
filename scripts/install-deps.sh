#!/usr/bin/env bash
# Installs the Debian 12 packages moe-nmt needs, and nothing else.
# Idempotent and quiet when everything is already there.
# --tests adds what only the test suite uses: Debian's chromium, in which a
# test opens the training report (it is skipped where chromium is absent, so
# without it CI would never run that check).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libeigen3-dev libsentencepiece-dev sentencepiece
  libcli11-dev libyaml-cpp-dev libgtest-dev
  libopenmpi-dev openmpi-bin
  nlohmann-json3-dev
  dpkg-dev python3 procps
)
case "${1:-}" in
  "") ;;
  --tests) packages+=(chromium) ;;
  *) echo "install-deps: unknown option '$1' (only --tests)" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
