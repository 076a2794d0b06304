"""scripts/build-importer-zip.sh: a zip that runs the importer with nothing but itself.

Builds from PyPI wheels (python3.11 manylinux2014 x86_64, the Lambda runtime),
so it needs PyPI like `make venv` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest

from tests.helpers.database import root_connection
from tests.helpers.services import ROOT, mysql_url
from tests.helpers.tls_mariadb import make_ca

# Downloads and builds the Lambda zip from PyPI, ~50 s under load: make test-fast leaves it out.
pytestmark = pytest.mark.slow

# Run by an interpreter that sees only the unpacked zip (-S: no site-packages,
# -I: no PYTHONPATH or user site), as the Lambda runtime sees /var/task (plus
# boto3, which the runtime provides and the importer imports lazily).
ISOLATED = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from countq.importer.handler import handler
from countq.importer.dump import iter_lines, split_statements
from countq.config import Settings
from countq.db.engine import create_engine
from countq.db.migrate import upgrade
assert handler is not None
stmts = list(split_statements(iter_lines([b"SELECT 1; SELECT 2"])))
assert [s.sql for s in stmts] == ["SELECT 1", "SELECT 2"], stmts
upgrade(create_engine(Settings(database_url=sys.argv[2]), pool_size=1))
assert not [m for m in sys.modules if m.startswith(("boto3", "botocore", "redis"))]
print("isolated ok", Path(handler.__code__.co_filename).parents[2])
"""


def test_zip_contents_and_an_isolated_migration(tmp_path: Path) -> None:
    out = tmp_path / "importer.zip"
    # A CA of the test's own where AWS's RDS bundle goes: that download needs the internet.
    ca = make_ca(tmp_path, "test-mysql-ca")
    build = subprocess.run(
        [str(ROOT / "scripts/build-importer-zip.sh"), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MYSQL_CA_FILE": str(ca.cert)},
    )
    assert build.returncode == 0, build.stderr

    with zipfile.ZipFile(out) as z:
        infos = z.infolist()
        names = {i.filename for i in infos}
        z.extractall(tmp_path / "task")
    for needed in (
        "countq/importer/handler.py",
        "countq/importer/dump.py",
        "countq/credentials.py",
        "countq/db/engine.py",
        "countq/db/migrations/env.py",
        "countq/db/migrations/versions/0001_messages.py",
        "pymysql/__init__.py",
        "sqlalchemy/__init__.py",
        "alembic/__init__.py",
        "pydantic_settings/__init__.py",
    ):
        assert needed in names, needed
    # At the root, which Lambda unpacks to /var/task: the module's MYSQL_TLS_CA.
    assert (tmp_path / "task" / "mysql-ca.pem").read_bytes() == ca.cert.read_bytes()
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("boto3/", "botocore/", "bin/", "redis/"))]
    # Only what the importer imports: not the API, the queue or the worker; of
    # the queue only its names (keys.py imports nothing, the settings derive
    # the key names from it).
    names_only = {"countq/queue/__init__.py", "countq/queue/keys.py"}
    assert not [
        n
        for n in names - names_only
        if n.startswith(("countq/api/", "countq/queue/", "countq/worker/"))
    ]
    core = [n for n in names if n.startswith("pydantic_core/") and n.endswith(".so")]
    assert core and all("x86_64-linux-gnu" in n for n in core)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert [i.filename for i in infos] == sorted(names)

    database = f"countq_zip_{uuid.uuid4().hex[:10]}"
    url = mysql_url(database)
    root = root_connection()
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
