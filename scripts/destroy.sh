#!/usr/bin/env bash
# Destroy one countq environment: the reverse of deploy.sh.
#
# Usage: scripts/destroy.sh [--profile P] [--region R] [--env test|dev|stage|prod]
#                           [--yes] [--dry-run] [--allow-prod] [--skip-final-snapshot]
# Whatever is not given as a flag is asked for. Asks you to type the
# environment name unless --yes; prod is refused without --allow-prod.
# Prod's database leaves a final snapshot, countq-prod-final-<UTC date-time>,
# unless --skip-final-snapshot. The buckets and the ECR repositories are emptied
# first (prod keeps them otherwise), then `terragrunt destroy`. The Terraform
# state bucket stays. Safe to rerun after a failure. --dry-run prints every
# command, runs none.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
allow_prod=0 final_snapshot=1
script_arg() {
  case "$1" in
    --allow-prod) allow_prod=1 ;;
    --skip-final-snapshot) final_snapshot=0 ;;
    *) return 1 ;;
  esac
}
parse_args "$@"
ask_missing "Environment to DESTROY (test, dev, stage, prod)" ""
check_env
if [[ "$env_name" == prod ]] && ((!allow_prod)); then
  die "refusing to destroy prod without --allow-prod (its database and buckets go with it)"
fi
check_region_and_stack
steps=6
[[ "$env_name" != prod ]] || steps=7

step "Prerequisites and AWS identity"
check_prerequisites \
  aws "the AWS CLI (v2)" \
  terraform "Terraform >= 1.11" \
  terragrunt "Terragrunt (runs terraform/infrastructure/<env>)" \
  git "git"
use_target
check_identity

step "Confirmation"
printf 'About to DESTROY countq %s in %s as %s: every service, the database and its data.\n' \
  "$env_name" "$region" "$identity" >&3
snapshot=""
if [[ "$env_name" == prod ]]; then
  if ((final_snapshot)); then
    snapshot="countq-$env_name-final-$(date -u +%Y%m%d-%H%M%S)"
    printf 'The database leaves a final snapshot: %s (kept until you delete it).\n' "$snapshot" >&3
  else
    printf 'No final snapshot (--skip-final-snapshot): the data is gone for good.\n' >&3
  fi
fi
if ((!yes && !dry_run)); then
  printf 'Type the environment name (%s) to confirm: ' "$env_name" >&2
  read -r answer || answer=""
  [[ "$answer" == "$env_name" ]] || die "cancelled (typed '$answer')"
fi

# The stack's inputs still need the importer zip and the image tag it runs.
if [[ ! -f build/importer.zip ]]; then
  run scripts/build-importer-zip.sh build/importer.zip
fi
# An output the stack does not have (never deployed, or half destroyed) is empty.
read_outputs
running="$(output_value image_tag)"

if [[ "$env_name" == prod ]]; then
  # protect_data turns on deletion protection on the database and the ALB,
  # and keeps the ALB's access-log bucket from being deleted with its logs
  # (emptying it first cannot work: the ALB writes new logs until it is
  # gone). Lift it on exactly those three, and name the final snapshot, or
  # the destroy stops half way. Only while they still exist: after a partial
  # destroy, targeting them would create them again just to delete them.
  step "Lifting prod's deletion protection (protect_data=false)"
  protected=(module.rds.aws_db_instance.this module.alb.aws_lb.this module.alb.aws_s3_bucket.logs)
  resources="$(tg_value "$(printf '%s\n' "${protected[@]}")" state list)" || resources=""
  unprotect=(-var protect_data=false -var "image_tag=$running")
  [[ -z "$snapshot" ]] || unprotect+=(-var "db_final_snapshot_identifier=$snapshot")
  for address in "${protected[@]}"; do
    if grep -qxF "$address" <<<"$resources"; then unprotect+=("-target=$address"); fi
  done
  if [[ "${unprotect[*]}" == *-target=* ]]; then
    tg apply -auto-approve -input=false "${unprotect[@]}"
  else
    echo "the database, the ALB and its log bucket are gone already" >&3
  fi
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
empty_bucket "$(output_value frontend_bucket)"
empty_bucket "$(output_value imports_bucket)"

# empty_repository NAME: delete every image of the ECR repository NAME
empty_repository() {
  local ids
  while :; do
    # A slice, not --max-items: batch-delete-image takes at most 100 ids.
    ids="$(value '[...]' aws ecr list-images --repository-name "$1" \
      --query 'imageIds[:100]' --output json)"
    [[ "$ids" == *image* || "$dry_run" == 1 ]] || break
    run aws ecr batch-delete-image --repository-name "$1" --image-ids "$ids" \
      --query 'length(imageIds)' --output text
    ((!dry_run)) || break
  done
}

step "Emptying the ECR repositories"
ecr_url="$(output_value ecr_repository_url)"
((!dry_run)) || ecr_url="<account>.dkr.ecr.$region.amazonaws.com/countq-$env_name"
if [[ -z "$ecr_url" ]]; then
  echo "no such output: nothing to empty" >&3
else
  empty_repository "${ecr_url##*/}"
fi
# The tracing collector's copy, when the stack has one.
collector_image="$(output_value collector_mirror_image)"
if [[ -n "$collector_image" ]]; then
  collector_repository="${collector_image#*/}"
  empty_repository "${collector_repository%:*}"
fi

step "Destroying the stack"
tg destroy -auto-approve -input=false -var "image_tag=$running"

step "Done"
printf 'countq %s is destroyed. The Terraform state bucket (countq-tfstate-<account>-%s) is kept.\n' \
  "$env_name" "$region" >&3
