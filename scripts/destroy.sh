#!/usr/bin/env bash
# Destroy one countq environment: the reverse of deploy.sh.
#
# Usage: scripts/destroy.sh [--profile P] [--region R] [--env test|dev|stage|prod]
#                           [--yes] [--dry-run] [--allow-prod]
# Whatever is not given as a flag is asked for. Asks you to type the
# environment name unless --yes; prod is refused without --allow-prod.
# The buckets and the ECR repository are emptied first (prod keeps them
# otherwise), then `terragrunt destroy`. The Terraform state bucket stays.
# Safe to rerun after a failure. --dry-run prints every command, runs none.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
allow_prod=0
script_arg() { [[ "$1" == --allow-prod ]] && allow_prod=1; }
parse_args "$@"
ask_missing "Environment to DESTROY (test, dev, stage, prod)" ""
check_env
if [[ "$env_name" == prod ]] && ((!allow_prod)); then
  die "refusing to destroy prod without --allow-prod (its database and buckets go with it)"
fi
check_region_and_stack
steps=6
[[ "$env_name" != prod ]] || steps=7

tg_output() { # tg_output NAME: one Terraform output, empty when the stack has none (never deployed)
  show cd "$stack_dir" '&&' terragrunt output -raw "$1"
  if ((dry_run)); then printf '<%s>' "$1"; return; fi
  (cd "$stack_dir" && terragrunt output -raw "$1" 2>/dev/null) || true
}

step "Prerequisites and AWS identity"
check_prerequisites \
  aws "the AWS CLI (v2)" \
  terraform "Terraform >= 1.11" \
  terragrunt "Terragrunt (runs terraform/infrastructure/<env>)" \
  git "git"
# The stack's inputs still need an image tag and the importer zip to plan.
use_target
check_identity

step "Confirmation"
printf 'About to DESTROY countq %s in %s as %s: every service, the database and its data.\n' \
  "$env_name" "$region" "$identity" >&3
if ((!yes && !dry_run)); then
  printf 'Type the environment name (%s) to confirm: ' "$env_name" >&2
  read -r answer || answer=""
  [[ "$answer" == "$env_name" ]] || die "cancelled (typed '$answer')"
fi

if [[ ! -f build/importer.zip ]]; then
  run scripts/build-importer-zip.sh build/importer.zip
fi

if [[ "$env_name" == prod ]]; then
  # protect_data turns on deletion protection (RDS, ALB) and keeps buckets,
  # repositories and secrets from being deleted with content: lift it on
  # exactly those modules first, or the destroy stops half way.
  step "Lifting prod's deletion protection (protect_data=false)"
  run_in "$stack_dir" terragrunt apply -auto-approve -input=false -var protect_data=false \
    -target=module.alb -target=module.rds -target=module.redis -target=module.ecr \
    -target=module.importer -target=module.frontend
fi

empty_bucket() {
  local bucket="$1" batch
  if [[ -z "$bucket" ]]; then
    echo "no such output: nothing to empty" >&3
    return
  fi
  run aws s3 rm "s3://$bucket" --recursive --only-show-errors
  # Versioned buckets keep old versions and delete markers after that;
  # delete them one page (at most 1000, the API's limit) at a time.
  while :; do
    batch="$(value '{"Objects": [...]}' aws s3api list-object-versions --bucket "$bucket" \
      --max-keys 1000 --no-paginate --output json \
      --query '{Objects: [Versions, DeleteMarkers][].{Key: Key, VersionId: VersionId}}')"
    [[ "$batch" == *'"Key"'* || "$dry_run" == 1 ]] || break
    run aws s3api delete-objects --bucket "$bucket" --delete "$batch" --output text \
      --query 'length(Deleted)'
    ((!dry_run)) || break
  done
}

step "Emptying the frontend and imports buckets"
empty_bucket "$(tg_output frontend_bucket)"
empty_bucket "$(tg_output imports_bucket)"

step "Emptying the ECR repository"
ecr_url="$(tg_output ecr_repository_url)"
((!dry_run)) || ecr_url="<account>.dkr.ecr.$region.amazonaws.com/countq-$env_name"
if [[ -z "$ecr_url" ]]; then
  echo "no such output: nothing to empty" >&3
else
  while :; do
    # A slice, not --max-items: batch-delete-image takes at most 100 ids.
    ids="$(value '[...]' aws ecr list-images --repository-name "${ecr_url##*/}" \
      --query 'imageIds[:100]' --output json)"
    [[ "$ids" == *image* || "$dry_run" == 1 ]] || break
    run aws ecr batch-delete-image --repository-name "${ecr_url##*/}" --image-ids "$ids" \
      --query 'length(imageIds)' --output text
    ((!dry_run)) || break
  done
fi

step "Destroying the stack"
run_in "$stack_dir" terragrunt destroy -auto-approve -input=false

step "Done"
printf 'countq %s is destroyed. The Terraform state bucket (countq-tfstate-<account>-%s) is kept.\n' \
  "$env_name" "$region" >&3
