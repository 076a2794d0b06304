#!/usr/bin/env bash
# Build the importer Lambda zip (python3.11, x86_64): the countq modules the
# importer imports, its migrations, and the runtime dependencies they import,
# as manylinux2014 wheels. Nothing else of countq (no API, no worker, no redis).
# Usage: scripts/build-importer-zip.sh [out.zip]   (default: build/importer.zip)
#
# The zip also carries mysql-ca.pem, the CA the importer verifies MySQL's
# certificate with (the Lambda's MYSQL_TLS_CA is /var/task/mysql-ca.pem): AWS's
# RDS bundle, downloaded and checked against the Dockerfile's pin (one pin for
# the image and the zip), or the file MYSQL_CA_FILE names (tests, offline).
#
# Dependency versions are pinned to the ones installed in .venv (the ones the
# tests ran with). boto3 is left out: the Lambda runtime provides it.
# Entries are sorted and dated 1980-01-01, so the same inputs give the same
# bytes and Terraform's source_code_hash changes only when content does.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/build/importer.zip}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x "$root/.venv/bin/python" ]]; then python="$root/.venv/bin/python"; else python=python3; fi
fi

# What `countq.importer.handler` imports, directly or through countq.db/config.
deps=(pymysql sqlalchemy alembic pydantic-settings python-json-logger)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# pip takes only name==version as a constraint: drop countq itself and
# anything installed from a path or URL (name @ url).
"$python" -m pip freeze --exclude-editable --disable-pip-version-check \
  | grep -v -i -E '^countq([=@ ]|$)| @ ' >"$work/constraints.txt" || true

echo "build-importer-zip: installing ${deps[*]} for cp311 manylinux2014_x86_64" >&2
"$python" -m pip install --quiet --disable-pip-version-check --no-compile \
  --target "$work/pkg" --platform manylinux2014_x86_64 --implementation cp \
  --python-version 3.11 --abi cp311 --only-binary=:all: \
  --constraint "$work/constraints.txt" "${deps[@]}"

# Console scripts carry this machine's interpreter path; RECORD hashes them.
rm -rf "$work/pkg/bin"
find "$work/pkg" -path '*.dist-info/*' \( -name RECORD -o -name INSTALLER -o -name REQUESTED \) -delete

if [[ -n "${MYSQL_CA_FILE:-}" ]]; then
  grep -q -- '-----BEGIN CERTIFICATE-----' "$MYSQL_CA_FILE" \
    || { echo "build-importer-zip: MYSQL_CA_FILE=$MYSQL_CA_FILE holds no PEM certificate" >&2; exit 2; }
  cp "$MYSQL_CA_FILE" "$work/pkg/mysql-ca.pem"
else
  ca_url="$(sed -n 's/^ARG RDS_CA_URL=//p' "$root/Dockerfile")"
  ca_sha256="$(sed -n 's/^ARG RDS_CA_SHA256=//p' "$root/Dockerfile")"
  echo "build-importer-zip: downloading $ca_url" >&2
  curl --fail --silent --show-error --location --proto '=https' \
    --output "$work/pkg/mysql-ca.pem" "$ca_url"
  printf '%s  %s\n' "$ca_sha256" "$work/pkg/mysql-ca.pem" >"$work/mysql-ca.sha256"
  sha256sum --check --strict --quiet "$work/mysql-ca.sha256"
fi

# The countq modules the handler imports (asked of Python, so the list cannot
# go stale), plus the migration scripts Alembic loads by path.
"$python" - "$root/src" "$work/pkg" <<'PY'
import shutil, sys
from pathlib import Path
src, dest = Path(sys.argv[1]), Path(sys.argv[2])
sys.path.insert(0, str(src))
import countq.importer.handler  # noqa: F401
files = {
    Path(module.__file__)
    for name, module in list(sys.modules.items())
    if name.partition(".")[0] == "countq" and getattr(module, "__file__", None)
}
files |= {p for p in (src / "countq/db/migrations").rglob("*") if p.is_file() and p.suffix != ".pyc"}
for path in sorted(files):
    target = dest / path.relative_to(src)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
PY

mkdir -p "$(dirname "$out")"
"$python" - "$work/pkg" "$out" <<'PY'
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
paths = sorted(
    os.path.relpath(os.path.join(d, f), src)
    for d, _, files in os.walk(src) for f in files
)
tmp = out + ".tmp"
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for rel in paths:
        full = os.path.join(src, rel)
        info = zipfile.ZipInfo(rel.replace(os.sep, "/"), date_time=(1980, 1, 1, 0, 0, 0))
        mode = 0o755 if os.access(full, os.X_OK) and rel.endswith(".so") else 0o644
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(full, "rb") as f:
            z.writestr(info, f.read(), compresslevel=9)
os.replace(tmp, out)
print(f"build-importer-zip: wrote {out} ({len(paths)} files, {os.path.getsize(out)} bytes)",
      file=sys.stderr)
PY
