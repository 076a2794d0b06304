# shellcheck shell=bash
# What deploy.sh and destroy.sh share; sourced by them, never run. It moves to
# the repository root, so every path after the `source` is relative to it.
# The sourcing script's header comment (from line 2) is its --help text.

# The state the helpers fill in and the scripts read.
# shellcheck disable=SC2034  # the scripts read yes, image_tag and identity
profile="" profile_set=0 region="" env_name="" yes=0 dry_run=0 stack_dir="" image_tag="" identity=""
me="${0##*/}"
steps=0 step_no=0 # the script sets steps, its number of steps

usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; }

die() { printf '%s: %s\n' "$me" "$*" >&2; exit 1; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root" || exit

# parse_args "$@": the flags both scripts take. A script with flags of its own
# defines script_arg FLAG (status 0 when it took FLAG) before calling this.
script_arg() { return 1; }
parse_args() {
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
      *) script_arg "$1" || { usage >&2; die "unknown argument: $1"; } ;;
    esac
    shift
  done
}

ask() { # ask VAR "question" default
  local answer
  printf '%s [%s]: ' "$2" "$3" >&2
  IFS= read -r answer || die "no answer for '$2' (give it as a flag when there is no terminal)"
  printf -v "$1" '%s' "${answer:-$3}"
}
# ask_missing "environment question" default: ask for what no flag gave
ask_missing() {
  ((profile_set)) || ask profile "AWS profile" "${AWS_PROFILE:-default}"
  [[ -n "$region" ]] || ask region "AWS region" "${AWS_REGION:-${AWS_DEFAULT_REGION:-eu-central-1}}"
  [[ -n "$env_name" ]] || ask env_name "$1" "$2"
}

check_env() {
  [[ "$env_name" =~ ^(test|dev|stage|prod)$ ]] || die "environment must be test, dev, stage or prod, not '$env_name'"
}
check_region_and_stack() {
  [[ "$region" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] || die "'$region' is not an AWS region name"
  stack_dir="terraform/infrastructure/$env_name"
  [[ -f "$stack_dir/terragrunt.hcl" ]] || die "no $stack_dir/terragrunt.hcl in $root"
}

# fd 3 is the terminal (or the caller's stdout) even inside $(...), so what a
# command substitution prints about itself is not mixed into its value.
exec 3>&1
step() { step_no=$((step_no + 1)); printf '\n==> [%d/%d] %s\n' "$step_no" "$steps" "$*" >&3; }
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

# tg ARGS...: terragrunt in the environment's folder
tg() { run_in "$stack_dir" terragrunt "$@"; }
# tg_value PLACEHOLDER ARGS...: what `terragrunt ARGS` prints there, or PLACEHOLDER in a dry run
tg_value() {
  local placeholder="$1"; shift
  show cd "$stack_dir" '&&' terragrunt "$@"
  if ((dry_run)); then printf '%s' "$placeholder"; else (cd "$stack_dir" && terragrunt "$@"); fi
}
# read_outputs: every output of the stack, as JSON, into $outputs ("{}" before
# the first apply; `output -raw` would print a warning there, on stdout).
outputs="{}"
read_outputs() { outputs="$(tg_value '{}' output -json)"; }
# output_value NAME: the string output NAME from $outputs, empty when there is none
output_value() {
  local re="\"$1\": *[{][^}]*\"value\": *\"([^\"]*)\""
  if ((dry_run)); then printf '<%s>' "$1"; elif [[ "$outputs" =~ $re ]]; then printf '%s' "${BASH_REMATCH[1]}"; fi
}

# check_prerequisites TOOL HINT [TOOL HINT]...: names every missing tool, then exits
check_prerequisites() {
  local missing=0
  while (($#)); do
    if ! command -v "$1" >/dev/null 2>&1; then
      printf '%s: missing prerequisite: %s not found on PATH; install %s\n' "$me" "$1" "$2" >&2
      missing=1
    fi
    shift 2
  done
  ((missing == 0)) || exit 1
}

# use_target: point terragrunt and every AWS call at the chosen environment,
# region and profile.
use_target() {
  # root.hcl and every AWS call read the region from here.
  export AWS_REGION="$region" AWS_DEFAULT_REGION="$region"
  image_tag="$(scripts/image-tag.sh "$env_name")"
  # terragrunt must never stop to ask. It no longer offers to create a
  # missing state bucket (Terragrunt 0.87 removed that): it stops with an
  # error, and only deploy.sh --first-deploy bootstraps the backend.
  export TG_NON_INTERACTIVE=true
  if [[ -n "$profile" ]]; then
    export AWS_PROFILE="$profile"
    show export "AWS_PROFILE=$profile"
  else
    unset AWS_PROFILE
    show unset AWS_PROFILE
  fi
  show export "AWS_REGION=$region" TG_NON_INTERACTIVE=true
}

# check_state_bucket: root.hcl keeps each environment's Terraform state in
# countq-tfstate-<account>-<region>. Terragrunt (>= 0.87) stops when it is
# missing and creates it only when told to (terragrunt backend bootstrap).
# So a region without it stops here, unless this is its first deploy
# (first_deploy=1): then new_backend=1, and the script bootstraps it once
# the operator confirmed.
new_backend=0
check_state_bucket() {
  local account bucket error
  account="$(value '<account>' aws sts get-caller-identity --query Account --output text)"
  bucket="countq-tfstate-${COUNTQ_AWS_ACCOUNT_ID:-$account}-$region"
  show aws s3api head-bucket --bucket "$bucket"
  if ((dry_run)); then
    new_backend=${first_deploy:-0}
    return 0
  fi
  error="$(aws s3api head-bucket --bucket "$bucket" 2>&1 >/dev/null)" && return 0
  # 404 is "no such bucket"; anything else (403: another account's bucket,
  # or no s3:ListBucket) must not be taken for a first deploy.
  [[ "$error" == *"Not Found"* || "$error" == *404* ]] \
    || die "cannot read the Terraform state bucket $bucket: ${error//$'\n'/ }"
  ((${first_deploy:-0})) \
    || die "no Terraform state bucket $bucket in $region: if this is the first deploy to $region, rerun with --first-deploy"
  new_backend=1
}

check_identity() {
  identity="$(value '<caller ARN>' aws sts get-caller-identity --query Arn --output text)" \
    || die "AWS credentials do not work for profile '${profile}' in $region (aws sts get-caller-identity failed)"
}
