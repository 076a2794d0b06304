#!/usr/bin/env bash
# Build the base images that the project's Dockerfiles and compose.yaml name,
# for a machine that can reach no image registry. Each stand-in is made from
# Debian's packages (its Dockerfile says what differs from the upstream image)
# and tagged with the upstream name, so the project's files are used unchanged.
#
# An absent image is pulled if a registry answers, and built otherwise; a
# stand-in is rebuilt when its sources changed; an image of that name that is
# not a stand-in (a real upstream image) is never replaced. The debootstrap root is cached as a tarball, and skipped
# altogether when every image is already there (a clean clone on a machine
# that built them before).
#
# Usage: build.sh   (DOCKER=<client> and CACHE=<dir> override the defaults)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
docker="${DOCKER:-$("$here/../docker-client.sh")}"
cache="${CACHE:-$root/.cache/containers/standins}"
base="countq-standin/debian:bookworm"
label="io.countq.standin"
sudo=""
[[ "$(id -u)" -eq 0 ]] || sudo="sudo"

# folder under standins/ = the upstream image it stands in for
standins=(
  "python=python:3.11-slim-bookworm"
  "node=node:22-bookworm-slim"
  "nginx-unprivileged=nginxinc/nginx-unprivileged:1.28-alpine"
  "mysql=mysql:8.4"
  "redis=redis:7.4-alpine"
)

# The CA bundle pip uses on this machine: builds inside the stand-ins reach
# PyPI and npm through the same TLS path as the host does.
ca_bundle="$(pip config get global.cert 2>/dev/null || true)"
ca_bundle="${ca_bundle:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
[[ -r "$ca_bundle" ]] || { echo "build.sh: no CA bundle at $ca_bundle" >&2; exit 1; }

# A short hash of what an image is made from, kept in a label, so a changed
# stand-in is rebuilt and an unchanged one is not.
sources_hash() {  # sources_hash FOLDER...
  {
    (cd "$here" && find "$@" -type f -print0 | sort -z | xargs -0 sha256sum)
    sha256sum <"$ca_bundle"
    if [[ " $* " == *" node "* ]]; then node --version; fi
  } | sha256sum | cut -c1-12
}

# "current", "stale" (an older stand-in), "absent", or "upstream" (not ours).
image_state() {  # image_state TAG HASH
  local found
  if ! found="$("$docker" image inspect --format "{{index .Config.Labels \"$label.sources\"}}" "$1" 2>/dev/null)"; then
    echo absent
  elif [[ "$found" == "$2" ]]; then
    echo current
  elif [[ -z "$found" || "$found" == "<no value>" ]]; then
    echo upstream
  else
    echo stale
  fi
}

# The Debian mirror this machine's apt uses, so debootstrap needs no other.
debian_mirror() {
  local uri
  uri="$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $2}')" || true
  echo "${uri:-http://deb.debian.org/debian}"
}

# debian:bookworm-slim's counterpart: debootstrap's minbase (about a minute),
# trimmed the way the official slim images are.
make_base_tarball() {  # make_base_tarball TARBALL
  local mirror tmp
  mirror="$(debian_mirror)"
  tmp="$(mktemp -d)"
  echo "build.sh: debootstrap bookworm from $mirror"
  if ! $sudo debootstrap --variant=minbase bookworm "$tmp/root" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
    tail -n 20 "$tmp/debootstrap.log" >&2
    $sudo rm -rf "$tmp"
    exit 1
  fi
  $sudo install -m 0644 "$here/debian/slim.cfg" "$tmp/root/etc/dpkg/dpkg.cfg.d/slim"
  $sudo install -m 0755 "$here/debian/policy-rc.d" "$tmp/root/usr/sbin/policy-rc.d"
  sed "s|http://deb.debian.org/debian |${mirror%/} |" "$here/debian/sources.list" \
    | $sudo tee "$tmp/root/etc/apt/sources.list" >/dev/null
  $sudo find "$tmp/root/usr/share/doc" "$tmp/root/usr/share/man" "$tmp/root/usr/share/info" \
    "$tmp/root/usr/share/locale" "$tmp/root/var/cache/apt" "$tmp/root/var/lib/apt/lists" \
    -mindepth 1 ! -type d ! -name copyright ! -name lock -delete
  mkdir -p "$(dirname "$1")"
  $sudo tar --numeric-owner -C "$tmp/root" -cf - . >"$1.part"
  mv "$1.part" "$1"
  $sudo rm -rf "$tmp"
}

build_base() {
  local hash tarball
  hash="$(sources_hash debian)"
  [[ "$(image_state "$base" "$hash")" == current ]] && return
  tarball="$cache/bookworm-minbase-$hash.tar"
  [[ -s "$tarball" ]] || make_base_tarball "$tarball"
  "$docker" import \
    --change "LABEL $label=debian:bookworm-slim $label.sources=$hash" \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    "$tarball" "$base" >/dev/null
}

# A stand-in's build context: its folder, the machine's CA bundle and, for
# node, the machine's own Node and npm (no Node 22 can be had here).
stage_context() {  # stage_context NAME DIR
  cp -a "$here/$1/." "$2/"
  cp "$ca_bundle" "$2/machine-ca.crt"
  if [[ "$1" == node ]]; then
    cp "$(command -v node)" "$2/node"
    cp -a "$(npm root -g)/npm" "$2/npm"
  fi
}

build_standin() {  # build_standin NAME TAG HASH
  local context before
  before="$("$docker" image inspect --format '{{.Id}}' "$2" 2>/dev/null || true)"
  context="$(mktemp -d)"
  stage_context "$1" "$context"
  local status=0
  DOCKER_BUILDKIT=1 "$docker" build --progress=plain \
    --label "$label=$2" --label "$label.sources=$3" --tag "$2" "$context" || status=$?
  rm -rf "$context"
  # The stale stand-in this one replaces, so edits leave no images behind.
  if [[ $status -eq 0 && -n "$before" ]]; then "$docker" image rm "$before" >/dev/null 2>&1 || true; fi
  return $status
}

todo=()
for entry in "${standins[@]}"; do
  name="${entry%%=*}" tag="${entry#*=}"
  hash="$(sources_hash debian "$name")"
  case "$(image_state "$tag" "$hash")" in
    # Where a registry answers (a CI runner), the real image is the better test.
    absent) "$docker" pull --quiet "$tag" >/dev/null 2>&1 || todo+=("$name=$tag=$hash") ;;
    stale) todo+=("$name=$tag=$hash") ;;
  esac
done
[[ ${#todo[@]} -gt 0 ]] || exit 0

build_base
mkdir -p "$cache"
# Side by side: each build mostly waits for Debian's mirror.
builds=()
for entry in "${todo[@]}"; do
  IFS="=" read -r name tag hash <<<"$entry"
  echo "build.sh: stand-in $tag from scripts/containers/standins/$name"
  build_standin "$name" "$tag" "$hash" >"$cache/$name.log" 2>&1 &
  builds+=("$!=$name=$tag")
done
failed=0
for build in "${builds[@]}"; do
  IFS="=" read -r pid name tag <<<"$build"
  if ! wait "$pid"; then
    tail -n 30 "$cache/$name.log" >&2
    echo "build.sh: building the stand-in $tag failed (log: $cache/$name.log)" >&2
    failed=1
  fi
done
exit "$failed"
