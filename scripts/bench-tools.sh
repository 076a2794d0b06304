#!/usr/bin/env bash
# Install what `make bench` needs beyond the virtualenv: wrk, from Debian.
# wrk drives POST /count from C, so the load generator costs the 2 cores
# little next to the server it measures (a Python client would be the bottleneck).
set -euo pipefail

if command -v wrk >/dev/null 2>&1; then
  exit 0
fi

sudo=()
if [[ "$(id -u)" -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "bench-tools.sh: wrk is missing and installing it needs root (or sudo)" >&2
    exit 1
  fi
  sudo=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
# A fresh image has empty package lists: refresh them only when wrk is unknown.
if ! apt-cache show wrk >/dev/null 2>&1; then
  "${sudo[@]}" apt-get update -q
fi
"${sudo[@]}" apt-get install -y -q --no-install-recommends wrk
wrk --version 2>&1 | head -n 1 || true
