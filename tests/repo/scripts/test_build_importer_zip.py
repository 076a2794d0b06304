"""scripts/build-importer-zip.sh: a zip that runs the importer with nothing but itself.

Builds from PyPI wheels (python3.11 manylinux2014 x86_64, the Lambda runtime),
so it needs PyPI like `make venv` does.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pymysql

ROOT = Path(__file__).resolve().parents[3]

# Run by an interpreter that sees only the unpacked zip (-S: no site-packages,
# -I: no PYTHONPATH or user site), as the Lambda runtime sees /var/task (plus
# boto3, which the runtime provides and the importer imports lazily).
ISOLATED = """
import sys
sys.path.insert(0, sys.argv[1])
from countq import importer, store
assert importer.handler is not None
stmts = list(importer.split_statements(importer.iter_lines([b"SELECT 1; SELECT 2"])))
assert [s.sql for s in stmts] == ["SELECT 1", "SELECT 2"], stmts
store.migrate(sys.argv[2])
assert not [m for m in sys.modules if m.startswith(("boto3", "botocore"))]
print("isolated ok", store.__file__)
"""


def test_zip_contents_and_an_isolated_migration(tmp_path: Path) -> None:
    out = tmp_path / "importer.zip"
    build = subprocess.run(
        [str(ROOT / "scripts/build-importer-zip.sh"), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr

    with zipfile.ZipFile(out) as z:
        infos = z.infolist()
        names = {i.filename for i in infos}
        z.extractall(tmp_path / "task")
    for needed in (
        "countq/importer.py",
        "countq/secrets.py",
        "countq/store.py",
        "countq/migrations/env.py",
        "pymysql/__init__.py",
        "sqlalchemy/__init__.py",
        "alembic/__init__.py",
        "pydantic_settings/__init__.py",
    ):
        assert needed in names, needed
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("boto3/", "botocore/", "bin/"))]
    core = [n for n in names if n.startswith("pydantic_core/") and n.endswith(".so")]
    assert core and all("x86_64-linux-gnu" in n for n in core)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert [i.filename for i in infos] == sorted(names)

    database = f"countq_zip_{uuid.uuid4().hex[:10]}"
    url = f"mysql+pymysql://root:@127.0.0.1:3306/{database}"
    root = pymysql.connect(
        host="127.0.0.1", user="root", password="", autocommit=True, ssl_disabled=True
    )
    try:
        root.cursor().execute(f"CREATE DATABASE `{database}`")
        run = subprocess.run(
            [sys.executable, "-S", "-I", "-c", ISOLATED, str(tmp_path / "task"), url],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stderr
        assert f"isolated ok {tmp_path / 'task'}" in run.stdout
        root.select_db(database)
        with root.cursor() as cur:
            cur.execute("SELECT row_count FROM message_stats")
            assert cur.fetchall() == ((0,),)
    finally:
        root.cursor().execute(f"DROP DATABASE IF EXISTS `{database}`")
        root.close()
