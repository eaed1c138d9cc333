#!/usr/bin/env bash
# Set up twinlock on a fresh Debian/Ubuntu machine (idempotent).
#   scripts/setup.sh app    system libraries Qt needs + .venv with the app (no torch)
#   scripts/setup.sh test   the above + Xvfb + .venv with the training and test extras
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-app}"

pkgs=(libglib2.0-0 libgl1 libegl1 libx11-6 libdbus-1-3 libfontconfig1 libfreetype6 libxkbcommon0
      libpulse0 libxrandr2 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
      libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0)
[ "$what" = test ] && pkgs+=(xvfb xauth)

if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "Installing system packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
case "$what" in
  app)  .venv/bin/python -m pip install -q -e . ;;
  # torch is pinned to 2.13.0 (CPU build) in the train extra: never a multi-GB CUDA build.
  test) .venv/bin/python -m pip install -q -e ".[train,test]" ;;
  *) echo "usage: scripts/setup.sh app|test" >&2; exit 4 ;;
esac
echo "twinlock: set up ($what) in .venv"
