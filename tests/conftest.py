"""Fixtures, and the one rule that marks tests slow by what they wait on: the
real MariaDB and Redis, fresh per test.

Each test gets its own database and its own REDIS_QUEUE (so its own keys);
nothing is shared between tests except the two servers. Helpers live in
tests/helpers/.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
import redis
from sqlalchemy.engine import Engine

from countq.config import Settings
from countq.db.engine import create_engine
from tests.helpers.database import migrate
from tests.helpers.processes import LiveStack, free_port, settings_env
from tests.helpers.services import MYSQL, REDIS_URL, ROOT, mysql_url, require_mysql, require_redis

AWS_REGION = "eu-west-1"
# A test that asks for one of these waits on a deploy replay or an environment's
# apply on moto (minutes), however small its own body: slow, so `make test-fast`
# leaves it out.
WAITS_ON_A_REPLAY = {"replays", "upgraded", "environment_runs", "env_run", "bootstrap_run"}


@pytest.hookimpl(tryfirst=True)  # before -m 'not slow' deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if WAITS_ON_A_REPLAY & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def mysql_database() -> Iterator[str]:
    """A fresh, empty MariaDB database; its SQLAlchemy URL."""
    require_mysql()
    name = f"countq_t_{uuid.uuid4().hex[:12]}"
    with pymysql.connect(**MYSQL) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    yield mysql_url(name)
    with pymysql.connect(**MYSQL) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture
def redis_queue() -> Iterator[str]:
    """A fresh queue name on the real Redis; its keys are removed afterwards."""
    require_redis()
    name = f"t-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(f"{{{name}}}:stream", f"{{{name}}}:dead", f"{{{name}}}:partitions")
    # QUEUE_PARTITIONS > 1: the other partitions' tags are `<name>.p<j>`.
    partitions = list(client.scan_iter(match=f"{{{name}.p*", count=1000))
    if partitions:
        client.delete(*partitions)
    client.close()


@pytest.fixture
def redis_admin() -> Iterator[redis.Redis]:
    """A client of the shared Redis with every right: for ACL users and inspection."""
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def settings(mysql_database: str, redis_queue: str, tmp_path: Path) -> Settings:
    """Settings on the real servers, schema migrated."""
    s = Settings(
        database_url=mysql_database,
        redis_url=REDIS_URL,
        redis_queue=redis_queue,
        data_dir=tmp_path,
        claim_idle_ms=500,
    )
    migrate(mysql_database)
    return s


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's AWS in this process: fake keys, one region, nothing from the host's AWS
    configuration, no secret cached before or after. Yields the region."""
    from moto import mock_aws

    from countq import credentials

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "AWS_REGION": AWS_REGION,
        "AWS_DEFAULT_REGION": AWS_REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    credentials.clear_cache()
    with mock_aws():
        yield AWS_REGION
    credentials.clear_cache()


@pytest.fixture(params=["sqlite", "mysql"])
def store_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated engine on each store countq runs on: SQLite (make run's
    default) and MariaDB."""
    if request.param == "mysql":
        url = request.getfixturevalue("mysql_database")
    else:
        url = f"sqlite:///{tmp_path / 'countq.db'}"
    migrate(url)
    engine = create_engine(Settings(database_url=url))
    yield engine
    engine.dispose()


@pytest.fixture
def live_stack(settings: Settings, tmp_path: Path) -> Iterator[LiveStack]:
    env = settings_env(settings)
    frontend = ROOT / "frontend" / "dist"
    if frontend.is_dir():
        env["FRONTEND_DIR"] = str(frontend)
    stack = LiveStack(settings, env, free_port(), tmp_path)
    try:
        stack.start_producer()
        stack.start_consumer()
        yield stack
    finally:
        stack.stop_all()
