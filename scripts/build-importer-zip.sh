#!/usr/bin/env bash
# Build the importer Lambda zip (python3.11, x86_64): the countq package plus
# the runtime dependencies the importer imports, as manylinux2014 wheels.
# Usage: scripts/build-importer-zip.sh [out.zip]   (default: build/importer.zip)
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

# What `countq.importer` imports, directly or through countq.store/config/queue.
deps=(pymysql sqlalchemy alembic pydantic-settings redis)

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

mkdir -p "$work/pkg/countq"
(cd "$root/src/countq" && find . -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0) \
  | (cd "$root/src/countq" && xargs -0 cp --parents -t "$work/pkg/countq")

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
