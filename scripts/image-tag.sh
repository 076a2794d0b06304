#!/usr/bin/env bash
# Print the container image tag for an environment: <env>-<git short sha>.
# Usage: scripts/image-tag.sh [env]   (env defaults to "local")
# deploy.sh tags and pushes with it, and Terraform's image_tag receives it.
set -euo pipefail

env_name="${1:-local}"
# The tag ends up in ECR and in resource names: keep it to what both accept.
if [[ ! "$env_name" =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]]; then
  echo "image-tag.sh: environment must match [a-z0-9][a-z0-9-]*, got '$env_name'" >&2
  exit 2
fi

# A fixed length, so every clone names the same commit the same way (git's
# default abbreviation grows with the size of the local object store).
if ! sha="$(git -C "$(dirname "$0")" rev-parse --short=12 HEAD 2>/dev/null)"; then
  echo "image-tag.sh: no git commit to tag from" >&2
  exit 1
fi

printf '%s-%s\n' "$env_name" "$sha"
