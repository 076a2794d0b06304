#!/usr/bin/env bash
# Deploy countq to one AWS environment, end to end, and smoke-test it.
#
# Usage: scripts/deploy.sh [--profile P] [--region R] [--env test|dev|stage|prod]
#                          [--yes] [--dry-run]
# Whatever is not given as a flag is asked for (the original prompts).
# --profile '' uses the credentials already in the environment (CI).
#
# Every step is idempotent, so after a failure rerun the same command: it
# picks up where it failed and skips what is done. --dry-run prints every
# command in order and runs none (values that come from Terraform outputs
# are shown as <placeholders>).
set -euo pipefail

usage() { sed -n '2,12s/^# \{0,1\}//p' "$0"; }

die() { printf 'deploy.sh: %s\n' "$*" >&2; exit 1; }

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"  # every path below is relative to the repository root
profile="" profile_set=0 region="" env_name="" yes=0 dry_run=0
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
[[ -n "$env_name" ]] || ask env_name "Environment (test, dev, stage, prod)" "dev"

[[ "$env_name" =~ ^(test|dev|stage|prod)$ ]] || die "environment must be test, dev, stage or prod, not '$env_name'"
[[ "$region" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] || die "'$region' is not an AWS region name"
stack_dir="terraform/infrastructure/$env_name"
[[ -f "$stack_dir/terragrunt.hcl" ]] || die "no $stack_dir/terragrunt.hcl in $root"

# fd 3 is the terminal (or the caller's stdout) even inside $(...), so what a
# command substitution prints about itself is not mixed into its value.
exec 3>&1
step_no=0
step() { step_no=$((step_no + 1)); printf '\n==> [%d/10] %s\n' "$step_no" "$*" >&3; }
show() { # print a command the way it would be typed
  local out="" arg safe='^[A-Za-z0-9_./:=@%+,<>-]+$'
  for arg in "$@"; do
    if [[ "$arg" =~ $safe || "$arg" == "|" || "$arg" == "&&" ]]; then
      out+=" $arg"
    else out+=" '${arg//\'/\'\\\'\'}'"; fi
  done
  printf '+%s\n' "$out" >&3
}
run() { show "$@"; ((dry_run)) || "$@"; }
run_in() { local dir="$1"; shift; show cd "$dir" '&&' "$@"; ((dry_run)) || (cd "$dir" && "$@"); }
# value PLACEHOLDER CMD...: the output of CMD, or PLACEHOLDER in a dry run
value() { local placeholder="$1"; shift; show "$@"; if ((dry_run)); then printf '%s' "$placeholder"; else "$@"; fi; }
tg_output() { # tg_output NAME: one Terraform output of this environment
  show cd "$stack_dir" '&&' terragrunt output -raw "$1"
  if ((dry_run)); then printf '<%s>' "$1"; else (cd "$stack_dir" && terragrunt output -raw "$1"); fi
}

step "Prerequisites and AWS identity"
missing=0
for tool in aws terraform terragrunt docker npm git curl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    case "$tool" in
      aws) hint="the AWS CLI (v2)" ;;
      terraform) hint="Terraform >= 1.11" ;;
      terragrunt) hint="Terragrunt (runs terraform/infrastructure/<env>)" ;;
      docker) hint="Docker with BuildKit (builds and pushes the image)" ;;
      npm) hint="Node.js >= 20.19 with npm (builds the frontend)" ;;
      git) hint="git (the image tag names the commit)" ;;
      curl) hint="curl (smoke test)" ;;
    esac
    printf 'deploy.sh: missing prerequisite: %s not found on PATH; install %s\n' "$tool" "$hint" >&2
    missing=1
  fi
done
((missing == 0)) || exit 1
# root.hcl and every AWS call read the region from here.
export AWS_REGION="$region" AWS_DEFAULT_REGION="$region"
image_tag="$(scripts/image-tag.sh "$env_name")"
# root.hcl passes IMAGE_TAG to the stack's image_tag input; terragrunt must
# not stop to ask (it offers to create the state bucket on the first run).
export IMAGE_TAG="$image_tag" TG_NON_INTERACTIVE=true DOCKER_BUILDKIT=1
if [[ -n "$profile" ]]; then
  export AWS_PROFILE="$profile"
  show export "AWS_PROFILE=$profile"
else
  unset AWS_PROFILE
  show unset AWS_PROFILE
fi
show export "AWS_REGION=$region" "IMAGE_TAG=$image_tag" TG_NON_INTERACTIVE=true
if ((!dry_run)) && ! docker info >/dev/null 2>&1; then
  die "docker is installed but its daemon is not reachable (start Docker, or check permissions)"
fi
if [[ -n "$(git status --porcelain --untracked-files=no)" ]]; then
  ((dry_run)) || die "uncommitted changes: commit first, the image tag $image_tag names the commit"
  echo "deploy.sh: warning: uncommitted changes (a real run refuses)" >&2
fi
identity="$(value '<caller ARN>' aws sts get-caller-identity --query Arn --output text)" \
  || die "AWS credentials do not work for profile '${profile}' in $region (aws sts get-caller-identity failed)"
printf 'Deploying countq %s to %s in %s as %s\n' "$image_tag" "$env_name" "$region" "$identity" >&3
if ((!yes && !dry_run)); then
  printf 'Proceed? [y/N] ' >&2
  read -r answer || answer=""
  [[ "$answer" =~ ^[Yy] ]] || die "cancelled"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

step "Importer Lambda zip (build/importer.zip, read by the stack)"
run scripts/build-importer-zip.sh build/importer.zip

# The repository is a resource of the stack (lifecycle policy, scanning, KMS)
# rather than an `aws ecr create-repository`: one owner, no import step, and
# destroy removes it. A targeted apply creates it before the first image.
step "ECR repository"
run_in "$stack_dir" terragrunt apply -auto-approve -input=false -target=module.ecr
ecr_url="$(tg_output ecr_repository_url)"
((!dry_run)) || ecr_url="<account>.dkr.ecr.$region.amazonaws.com/countq-$env_name"

step "Image $image_tag"
image="$ecr_url:$image_tag"
show aws ecr describe-images --repository-name "${ecr_url##*/}" --image-ids "imageTag=$image_tag"
if ((!dry_run)) && aws ecr describe-images --repository-name "${ecr_url##*/}" \
  --image-ids "imageTag=$image_tag" >/dev/null 2>&1; then
  echo "already in ECR: not built again" >&3
else
  show aws ecr get-login-password '|' docker login --username AWS --password-stdin "${ecr_url%%/*}"
  ((dry_run)) || aws ecr get-login-password | docker login --username AWS --password-stdin "${ecr_url%%/*}"
  run docker build --platform linux/amd64 --pull --tag "$image" .
  run docker push "$image"
fi

# Migrations run before the new image rolls out, so new code never meets an
# old schema, and on the first deploy the services start with their tables
# and their database user already there. The targeted apply brings up the
# importer with what it depends on (network, RDS, secrets) and its new code.
step "Database: RDS and the importer Lambda, then migrations and app user"
run_in "$stack_dir" terragrunt apply -auto-approve -input=false -target=module.importer
importer="$(tg_output importer_function_name)"
printf '{"action":"migrate"}' >"$work/migrate.json"
function_error="$(value None aws lambda invoke --function-name "$importer" \
  --payload "fileb://$work/migrate.json" --cli-read-timeout 900 \
  --query FunctionError --output text "$work/migrate-result.json")"
if ((!dry_run)); then
  cat "$work/migrate-result.json" >&3 && echo >&3
  if [[ "$function_error" != "None" ]] || ! grep -Eq '"ok": *true' "$work/migrate-result.json"; then
    die "migration failed (result above; logs in CloudWatch /aws/lambda/$importer)"
  fi
fi

step "Stack (terragrunt apply with image_tag=$image_tag)"
run_in "$stack_dir" terragrunt apply -auto-approve -input=false

step "Frontend to S3 and CloudFront"
bucket="$(tg_output frontend_bucket)"
distribution="$(tg_output cloudfront_distribution_id)"
run_in frontend npm ci
run_in frontend npm run build
# Hashed assets first (never change, cached for a year), then index.html and
# the other unhashed files (always revalidated), so no page names a missing asset.
run aws s3 sync frontend/dist/assets "s3://$bucket/assets" \
  --cache-control "public, max-age=31536000, immutable"
run aws s3 sync frontend/dist "s3://$bucket" --delete --exclude "assets/*" \
  --cache-control "no-cache"
run aws cloudfront create-invalidation --distribution-id "$distribution" --paths "/*" \
  --query Invalidation.Id --output text

step "Waiting for the ECS services to be stable"
cluster="$(tg_output ecs_cluster_name)"
producer="$(tg_output producer_service_name)"
consumer="$(tg_output consumer_service_name)"
run aws ecs wait services-stable --cluster "$cluster" --services "$producer" "$consumer"

step "Smoke test through CloudFront (POST then GET /count)"
url="$(tg_output cloudfront_url)"
url="${url%/}"
count="$(date +%s)"
curl_opts=(--fail --silent --show-error --max-time 10 --retry 6 --retry-all-errors --retry-delay 5)
run curl "${curl_opts[@]}" -X POST "$url/count" -H "content-type: application/json" \
  --data "{\"count\": $count}"
show curl "${curl_opts[@]}" "$url/count"
if ((!dry_run)); then
  echo >&3
  # The consumer stores asynchronously: poll until our value is the last one.
  stored="\"last_value\": *${count}[,}]"
  for _ in $(seq 30); do
    body="$(curl "${curl_opts[@]}" "$url/count")"
    [[ "$body" =~ $stored ]] && break
    sleep 2
  done
  [[ "$body" =~ $stored ]] || die "smoke test: GET /count never showed $count (last: $body)"
  echo "$body" >&3
fi

step "Done"
printf 'countq %s is live: %s\n' "$env_name" "$url" >&3
