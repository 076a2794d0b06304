#!/usr/bin/env bash
# Print the path of a Docker client that builds with BuildKit, which the
# project's Dockerfile needs (RUN --mount). A client from Docker 23 on builds
# with BuildKit only through the buildx plugin; where a newer client without
# it comes first on the PATH, Debian's docker.io client (20.10, BuildKit built
# in), installed beside the engine, is the one to use.
set -euo pipefail

builds_with_buildkit() {
  local version
  "$1" buildx version >/dev/null 2>&1 && return 0
  version="$("$1" --version 2>/dev/null | sed -nE 's/^Docker version ([0-9]+)\..*/\1/p')"
  [[ -n "$version" && "$version" -lt 23 ]]
}

for client in "$(command -v docker || true)" /usr/bin/docker; do
  if [[ -x "$client" ]] && builds_with_buildkit "$client"; then
    echo "$client"
    exit 0
  fi
done
echo "docker-client.sh: no Docker client here builds with BuildKit (install the buildx plugin, or Debian's docker.io)" >&2
exit 1
