#!/usr/bin/env bash
# Make a Docker engine answer for the container tests. An engine that already
# answers (a CI runner's, Docker Desktop) is used as it is. Otherwise Debian's
# docker.io (Docker 20.10) is installed when missing and dockerd is started in
# the background, as root, and left running: its images outlive the run, so
# the next run builds nothing. Compose (v2, or Debian's docker-compose 1.29)
# and debootstrap (for the stand-in base images) are installed when missing.
#
# Usage: engine-up.sh   (DOCKERD_LOG=<file> to put dockerd's log elsewhere)
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
log="${DOCKERD_LOG:-$root/.cache/containers/dockerd.log}"
sudo=""
[[ "$(id -u)" -eq 0 ]] || sudo="sudo"

client() { command -v docker || echo /usr/bin/docker; }
answers() { "$(client)" info >/dev/null 2>&1; }

packages=()
if ! answers && ! command -v dockerd >/dev/null; then
  packages+=(docker.io)
fi
if ! "$(client)" compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
  packages+=(docker-compose)
fi
if ! command -v debootstrap >/dev/null; then
  packages+=(debootstrap)
fi
if [[ ${#packages[@]} -gt 0 ]]; then
  echo "engine-up.sh: installing ${packages[*]} (Debian's packages)"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${packages[@]}"
fi

if ! answers; then
  echo "engine-up.sh: starting dockerd (log: $log)"
  mkdir -p "$(dirname "$log")"
  $sudo setsid dockerd </dev/null >>"$log" 2>&1 &
  for _ in $(seq 60); do
    answers && break
    sleep 0.5
  done
fi
if ! answers; then
  echo "engine-up.sh: the Docker engine does not answer$([[ -n "$sudo" ]] && echo " (is $(id -un) in the docker group?)")" >&2
  tail -n 20 "$log" >&2 2>/dev/null || true
  exit 1
fi
