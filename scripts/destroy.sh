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

usage() { sed -n '2,11s/^# \{0,1\}//p' "$0"; }

die() { printf 'destroy.sh: %s\n' "$*" >&2; exit 1; }

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"  # every path below is relative to the repository root
profile="" profile_set=0 region="" env_name="" yes=0 dry_run=0 allow_prod=0
while (($#)); do
  case "$1" in
    --profile) (($# > 1)) || die "--profile needs a value"; profile="$2"; profile_set=1; shift ;;
    --profile=*) profile="${1#*=}"; profile_set=1 ;;
    --region) (($# > 1)) || die "--region needs a value"; region="$2"; shift ;;
    --region=*) region="${1#*=}" ;;
    --env) (($# > 1)) || die "--env needs a value"; env_name="$2"; shift ;;
    --env=*) env_name="${1#*=}" ;;
    --yes | -y) yes=1 ;;
    --dry-run) dry_run=1 ;;
    --allow-prod) allow_prod=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done

ask() { # ask VAR "question" default
  local answer
  printf '%s [%s]: ' "$2" "$3" >&2
  IFS= read -r answer || die "no answer for '$2' (give it as a flag when there is no terminal)"
  printf -v "$1" '%s' "${answer:-$3}"
}
((profile_set)) || ask profile "AWS profile" "${AWS_PROFILE:-default}"
[[ -n "$region" ]] || ask region "AWS region" "${AWS_REGION:-${AWS_DEFAULT_REGION:-eu-west-1}}"
[[ -n "$env_name" ]] || ask env_name "Environment to DESTROY (test, dev, stage, prod)" ""

[[ "$env_name" =~ ^(test|dev|stage|prod)$ ]] || die "environment must be test, dev, stage or prod, not '$env_name'"
if [[ "$env_name" == prod ]] && ((!allow_prod)); then
  die "refusing to destroy prod without --allow-prod (its database and buckets go with it)"
fi
[[ "$region" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] || die "'$region' is not an AWS region name"
stack_dir="terraform/infrastructure/$env_name"
[[ -f "$stack_dir/terragrunt.hcl" ]] || die "no $stack_dir/terragrunt.hcl in $root"

# fd 3 is the terminal (or the caller's stdout) even inside $(...).
exec 3>&1
step_no=0
steps=6
[[ "$env_name" != prod ]] || steps=7
step() { step_no=$((step_no + 1)); printf '\n==> [%d/%d] %s\n' "$step_no" "$steps" "$*" >&3; }
show() { # print a command the way it would be typed
  local out="" arg safe='^[A-Za-z0-9_./:=@%+,<>-]+$'
  for arg in "$@"; do
    if [[ "$arg" =~ $safe || "$arg" == "&&" ]]; then
      out+=" $arg"
    else
      out+=" '${arg//\'/\'\\\'\'}'"
    fi
  done
  printf '+%s\n' "$out" >&3
}
run() { show "$@"; ((dry_run)) || "$@"; }
run_in() { local dir="$1"; shift; show cd "$dir" '&&' "$@"; ((dry_run)) || (cd "$dir" && "$@"); }
value() { local placeholder="$1"; shift; show "$@"; if ((dry_run)); then printf '%s' "$placeholder"; else "$@"; fi; }
tg_output() { # tg_output NAME: one Terraform output, empty when the stack has none (never deployed)
  show cd "$stack_dir" '&&' terragrunt output -raw "$1"
  if ((dry_run)); then printf '<%s>' "$1"; return; fi
  (cd "$stack_dir" && terragrunt output -raw "$1" 2>/dev/null) || true
}

step "Prerequisites and AWS identity"
missing=0
for tool in aws terraform terragrunt git; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    case "$tool" in
      aws) hint="the AWS CLI (v2)" ;;
      terraform) hint="Terraform >= 1.11" ;;
      terragrunt) hint="Terragrunt (runs terraform/infrastructure/<env>)" ;;
      git) hint="git" ;;
    esac
    printf 'destroy.sh: missing prerequisite: %s not found on PATH; install %s\n' "$tool" "$hint" >&2
    missing=1
  fi
done
((missing == 0)) || exit 1
export AWS_REGION="$region" AWS_DEFAULT_REGION="$region"
# The stack's inputs still need an image tag and the importer zip to plan.
image_tag="$(scripts/image-tag.sh "$env_name")"
export IMAGE_TAG="$image_tag" TG_NON_INTERACTIVE=true
if [[ -n "$profile" ]]; then
  export AWS_PROFILE="$profile"
  show export "AWS_PROFILE=$profile"
else
  unset AWS_PROFILE
  show unset AWS_PROFILE
fi
show export "AWS_REGION=$region" "IMAGE_TAG=$image_tag" TG_NON_INTERACTIVE=true
identity="$(value '<caller ARN>' aws sts get-caller-identity --query Arn --output text)" \
  || die "AWS credentials do not work for profile '${profile}' in $region (aws sts get-caller-identity failed)"

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
