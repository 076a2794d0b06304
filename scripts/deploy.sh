#!/usr/bin/env bash
# Deploy countq to one AWS environment, end to end, and smoke-test it.
#
# Usage: scripts/deploy.sh [--profile P] [--region R] [--env test|dev|stage|prod]
#                          [--yes] [--dry-run] [--first-deploy]
# Whatever is not given as a flag is asked for (the original prompts).
# --profile '' uses the credentials already in the environment (CI).
#
# Every step is idempotent, so after a failure rerun the same command: it
# picks up where it failed and skips what is done. --dry-run prints every
# command in order and runs none (values that come from Terraform outputs
# are shown as <placeholders>).
#
# --first-deploy: the region has no Terraform state bucket yet; create it
# (terragrunt backend bootstrap, as root.hcl's remote_state describes it)
# once you confirmed, before the first apply. Without the flag, a region
# with no state bucket stops before anything is built or changed.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
steps=10
# Longer than the importer's timeout (900 s, the Lambda maximum).
invoke_read_timeout=960
# What the ECS waiter does before it gives up (40 polls, 15 s apart).
waiter_minutes=10
first_deploy=0
script_arg() { [[ "$1" == --first-deploy ]] && first_deploy=1; }
parse_args "$@"
ask_missing "Environment (test, dev, stage, prod)" "dev"
check_env
check_region_and_stack

step "Prerequisites and AWS identity"
check_prerequisites \
  aws "the AWS CLI (v2)" \
  terraform "Terraform >= 1.11" \
  terragrunt "Terragrunt (runs terraform/infrastructure/<env>)" \
  docker "Docker with BuildKit (builds and pushes the image)" \
  npm "Node.js >= 20.19 with npm (builds the frontend)" \
  git "git (the image tag names the commit)" \
  curl "curl (smoke test)"
use_target
export DOCKER_BUILDKIT=1
if ((!dry_run)) && ! docker info >/dev/null 2>&1; then
  die "docker is installed but its daemon is not reachable (start Docker, or check permissions)"
fi
if [[ -n "$(git status --porcelain --untracked-files=no)" ]]; then
  ((dry_run)) || die "uncommitted changes: commit first, the image tag $image_tag names the commit"
  echo "deploy.sh: warning: uncommitted changes (a real run refuses)" >&2
fi
check_identity
check_state_bucket
printf 'Deploying countq %s to %s in %s as %s\n' "$image_tag" "$env_name" "$region" "$identity" >&3
if ((!yes && !dry_run)); then
  printf 'Proceed? [y/N] ' >&2
  read -r answer || answer=""
  [[ "$answer" =~ ^[Yy] ]] || die "cancelled"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# services_not_stable: the waiter gave up; say where to look, and stop.
services_not_stable() {
  printf '%s: the services were not stable after %s minutes (the waiter above gave up). Next:\n' \
    "$me" "$waiter_minutes" >&2
  printf '  %s\n' \
    "aws ecs describe-services --cluster $cluster --services $producer $consumer --query 'services[].[serviceName,runningCount,desiredCount,events[:3]]'" \
    "logs of tasks that stopped: /ecs/$cluster/$producer and /ecs/$cluster/$consumer" \
    "ECS's circuit breaker rolls a release whose tasks never get healthy back to the last one" \
    "once the services are stable, run this command again (every step is safe to repeat)" >&2
  exit 1
}

# smoke_test_get URL COUNT: GET URL/count until it shows COUNT as the last
# value, or stop with what it showed last. The consumer stores asynchronously.
smoke_test_get() {
  local body="(no answer)" stored="\"last_value\": *${2}[,}]" attempt
  echo >&3
  for attempt in $(seq 30); do
    # A failed GET (after curl's own retries) is one more try, not an exit.
    body="$(curl "${curl_opts[@]}" "$1/count")" || body="(GET failed: curl's error above)"
    [[ "$body" =~ $stored ]] && break
    ((attempt == 30)) || sleep "${SMOKE_TEST_INTERVAL_S:-2}"
  done
  [[ "$body" =~ $stored ]] || die "smoke test: GET /count never showed $2 (last: $body)"
  echo "$body" >&3
}

step "Importer Lambda zip (build/importer.zip, read by the stack)"
run scripts/build-importer-zip.sh build/importer.zip

# The order that makes a first deploy work, and every rerun. This apply
# builds everything but the release and leaves the services on the image
# they run (none yet on a first deploy, so no task can start before its
# schema and database user exist). Then the image, then the migrations (the
# importer now has its route out, port 3306 and both secrets), then the
# release apply. A tag reaches the services only there, after its migrations
# succeeded, so the tag this step reads back has always been migrated.
step "Infrastructure: network, data stores, secrets, importer (services unchanged)"
((!new_backend)) || tg backend bootstrap
read_outputs
running="$(output_value image_tag)"
if [[ "$outputs" != *'"image_tag"'* && "$outputs" == *'"value"'* ]]; then
  die "the stack's outputs have no image_tag: apply once with -var image_tag=<the tag the services run>"
fi
[[ -n "$running" ]] || echo "no release runs yet: the services are created after the migrations" >&3
tg apply -auto-approve -input=false -var "image_tag=$running"
read_outputs
ecr_url="$(output_value ecr_repository_url)"
((!dry_run)) || ecr_url="<account>.dkr.ecr.$region.amazonaws.com/countq-$env_name"

# in_ecr REPOSITORY TAG: whether ECR already has that tag (never in a dry run)
in_ecr() {
  show aws ecr describe-images --repository-name "$1" --image-ids "imageTag=$2"
  ((!dry_run)) && aws ecr describe-images --repository-name "$1" --image-ids "imageTag=$2" >/dev/null 2>&1
}
# ecr_login: docker logged in to the account's registry, once per run
logged_in=0
ecr_login() {
  ((!logged_in)) || return 0
  show aws ecr get-login-password '|' docker login --username AWS --password-stdin "${ecr_url%%/*}"
  ((dry_run)) || aws ecr get-login-password | docker login --username AWS --password-stdin "${ecr_url%%/*}"
  logged_in=1
}

step "Images: countq $image_tag and the tracing collector's copy"
image="$ecr_url:$image_tag"
if in_ecr "${ecr_url##*/}" "$image_tag"; then
  echo "already in ECR: not built again" >&3
else
  ecr_login
  run docker build --platform linux/amd64 --pull --tag "$image" .
  run docker push "$image"
fi
# With tracing, the tasks run the collector from the account's ECR (prod has
# no internet egress to pull it from public.ecr.aws): copy the pinned source
# there before any task of this release can start.
collector_source="$(output_value collector_mirror_source)"
collector_image="$(output_value collector_mirror_image)"
if [[ -z "$collector_image" ]]; then
  echo "no collector copy (tracing off, or tracing_collector_mirror = false)" >&3
else
  collector_repository="${collector_image#*/}"
  if in_ecr "${collector_repository%:*}" "${collector_image##*:}"; then
    echo "collector already in ECR: not copied again" >&3
  else
    ecr_login
    run docker pull --platform linux/amd64 "$collector_source"
    run docker tag "$collector_source" "$collector_image"
    run docker push "$collector_image"
  fi
fi

# New code never meets an old schema: the old release (if any) keeps running
# on the migrated schema until (4), so migrations stay backward compatible
# for one release (add a column now, drop the old one a release later).
step "Migrations and the application user (importer Lambda)"
importer="$(output_value importer_function_name)"
printf '{"action":"provision"}' >"$work/provision.json"
# The function may run its full 900 s: the CLI waits longer than that, and
# never sends the invocation again (AWS_MAX_ATTEMPTS=1: by default it retries
# a read timeout, which would run provision two or three times at once).
function_error="$(AWS_MAX_ATTEMPTS=1 value None aws lambda invoke --function-name "$importer" \
  --payload "fileb://$work/provision.json" --cli-read-timeout "$invoke_read_timeout" \
  --query FunctionError --output text "$work/provision-result.json")"
if ((!dry_run)); then
  cat "$work/provision-result.json" >&3 && echo >&3
  if [[ "$function_error" != "None" ]] || ! grep -Eq '"ok": *true' "$work/provision-result.json"; then
    die "migration failed (result above; logs in CloudWatch /aws/lambda/$importer)"
  fi
fi

# Creates the services on a first deploy (at their task counts, behind the
# listener) or rolls them onto the new image.
step "Release $image_tag: the services on the new image"
tg apply -auto-approve -input=false -var "image_tag=$image_tag"

step "Frontend to S3 and CloudFront"
bucket="$(output_value frontend_bucket)"
distribution="$(output_value cloudfront_distribution_id)"
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
cluster="$(output_value ecs_cluster_name)"
producer="$(output_value producer_service_name)"
consumer="$(output_value consumer_service_name)"
if ! run aws ecs wait services-stable --cluster "$cluster" --services "$producer" "$consumer"; then
  services_not_stable
fi

step "Smoke test through CloudFront (POST then GET /count)"
url="$(output_value cloudfront_url)"
url="${url%/}"
count="$(date +%s)"
curl_opts=(--fail --silent --show-error --max-time 10 --retry 6 --retry-all-errors --retry-delay 5)
run curl "${curl_opts[@]}" -X POST "$url/count" -H "content-type: application/json" \
  --data "{\"count\": $count}" || die "smoke test: POST $url/count failed (curl's error above)"
show curl "${curl_opts[@]}" "$url/count"
((dry_run)) || smoke_test_get "$url" "$count"

step "Done"
printf 'countq %s is live: %s\n' "$env_name" "$url" >&3
