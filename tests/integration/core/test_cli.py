"""What a person sees when a setting is wrong, tried as a new user would: one line
that names the setting (and the server it tried), exit status 2, no traceback."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.database import root_connection
from tests.helpers.processes import free_port, wait_http, wait_until
from tests.helpers.services import MYSQL, ROOT

SERVER = f"MySQL at {MYSQL['host']}:{MYSQL['port']}"


def clean_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """A shell with only these countq settings, as a new user's would be."""
    return {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "INFO",
        **settings,
    }


def mysql_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    settings = {
        "MYSQL_HOST": str(MYSQL["host"]),
        "MYSQL_PORT": str(MYSQL["port"]),
        "MYSQL_USER": "root",
        "MYSQL_PASSWORD": "",
        "MYSQL_DATABASE": f"countq_cli_{uuid.uuid4().hex[:10]}",
    }
    return clean_env(tmp_path, **{**settings, **overrides})


def countq(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "countq", *args],
        env=env,
        cwd=env["HOME"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error line of a run that must have failed on a setting."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("countq: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.fixture
def database_name() -> Iterator[str]:
    """A database name nothing uses yet; dropped afterwards if a test created it."""
    name = f"countq_cli_{uuid.uuid4().hex[:10]}"
    yield name
    with root_connection() as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def test_wrong_port_names_host_and_port(tmp_path: Path) -> None:
    port = free_port()
    line = one_line_error(countq(mysql_env(tmp_path, MYSQL_PORT=str(port)), "migrate"))
    assert line == (
        f"countq: cannot reach MySQL at {MYSQL['host']}:{port}: check MYSQL_HOST and MYSQL_PORT"
    )


def test_wrong_password_names_user_and_password(tmp_path: Path) -> None:
    line = one_line_error(countq(mysql_env(tmp_path, MYSQL_PASSWORD="not-the-password"), "migrate"))
    assert line == (
        f"countq: {SERVER} refused the login of user 'root': check MYSQL_USER and MYSQL_PASSWORD"
    )


def test_a_database_the_user_may_not_create_names_it(tmp_path: Path, database_name: str) -> None:
    user, password = f"countq_np_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with root_connection() as conn, conn.cursor() as cur:
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
    try:
        env = mysql_env(
            tmp_path, MYSQL_USER=user, MYSQL_PASSWORD=password, MYSQL_DATABASE=database_name
        )
        line = one_line_error(countq(env, "migrate"))
    finally:
        with root_connection() as conn, conn.cursor() as cur:
            cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))
    assert line == (
        f"countq: {SERVER} has no database '{database_name}' that user '{user}' may use"
        " or create: check MYSQL_DATABASE, or create it"
    )


def test_migrate_creates_a_missing_database_and_says_so(tmp_path: Path, database_name: str) -> None:
    env = mysql_env(tmp_path, MYSQL_DATABASE=database_name)
    result = countq(env, "migrate")
    assert result.returncode == 0, result.stderr
    assert f"created database {database_name} on {MYSQL['host']}:{MYSQL['port']}" in result.stderr
    with root_connection(database_name) as conn, conn.cursor() as cur:
        cur.execute("SELECT row_count FROM message_stats")
        assert cur.fetchall() == ((0,),)
    again = countq(env, "migrate")
    assert again.returncode == 0 and "created database" not in again.stderr


def test_dev_stops_at_a_misconfigured_database_before_starting_anything(tmp_path: Path) -> None:
    """`make run` with MYSQL_* pointing at a server that is not there."""
    env = mysql_env(tmp_path, MYSQL_PORT=str(free_port()), HTTP_PORT=str(free_port()))
    line = one_line_error(countq(env, "dev"))
    assert "check MYSQL_HOST and MYSQL_PORT" in line


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.mark.parametrize(
    ("command", "setting"), [("consumer", "CONSUMER_PORT"), ("producer", "HTTP_PORT")]
)
def test_a_port_in_use_is_one_line(
    tmp_path: Path, taken_port: int, command: str, setting: str
) -> None:
    """The consumer with the producer's environment on one host used to die with a traceback."""
    result = countq(clean_env(tmp_path, **{setting: str(taken_port)}), command)
    line = one_line_error(result)
    assert line.startswith(f"countq: {setting}={taken_port} is in use on this host: set {setting}")


def run_dev(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "countq", "dev"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


# A whole `countq dev` stack, started and stopped (6 s): slow.
@pytest.mark.slow
def test_dev_gives_the_consumer_a_free_port_when_its_default_is_taken(tmp_path: Path) -> None:
    """A clean clone's `make test` once failed because HTTP_PORT + 1 was taken."""
    default = 5081
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(("0.0.0.0", default))
        holder.listen()
    except OSError:
        pass  # taken already, which is the case under test
    port = free_port()
    env = clean_env(tmp_path, HTTP_PORT=str(port), FRONTEND_DIR=str(tmp_path / "no-page"))
    log = tmp_path / "dev.log"
    dev = run_dev(env, log)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=30, proc=dev)
        wait_until(lambda: "consumer     http://localhost:" in log.read_text(), timeout=20)
        found = re.search(r"consumer +http://localhost:(\d+)/metrics", log.read_text())
        assert found, log.read_text()
        consumer_port = int(found.group(1))
        assert consumer_port not in (default, port)
        assert httpx.get(f"http://127.0.0.1:{consumer_port}/metrics").status_code == 200
    finally:
        holder.close()
        dev.send_signal(signal.SIGINT)
        code = dev.wait(timeout=15)
    assert code == 0, log.read_text()[-2000:]


def test_consumer_port_zero_prints_the_port_it_got(tmp_path: Path) -> None:
    env = clean_env(tmp_path, CONSUMER_PORT="0", DATABASE_URL=f"sqlite:///{tmp_path}/c.db")
    assert countq(env, "migrate").returncode == 0
    log = tmp_path / "consumer.log"
    with log.open("wb") as out:
        consumer = subprocess.Popen(
            [sys.executable, "-m", "countq", "consumer"], env=env, stdout=out, stderr=out
        )
    try:
        wait_until(lambda: "metrics on http://" in log.read_text(), timeout=20)
        found = re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)", log.read_text())
        assert found, log.read_text()
        assert httpx.get(found.group(1)).status_code == 200
    finally:
        consumer.send_signal(signal.SIGTERM)
        assert consumer.wait(timeout=15) == 0, log.read_text()


@pytest.mark.parametrize(
    ("variable", "value", "sentence"),
    [
        ("WEB_CONCURRENCY", "0", "Input should be greater than or equal to 1"),
        ("MAX_DELIVERIES", "0", "Input should be greater than or equal to 1"),
        ("MAX_BACKLOG", "0", "Input should be greater than or equal to 1"),
        ("HTTP_PORT", "65536", "Input should be less than or equal to 65535"),
        ("CONSUMER_BLOCK_MS", "0", "Input should be greater than 0"),
        ("METRICS_INTERVAL_S", "0", "Input should be greater than 0"),
        ("LOG_LEVEL", "loud", "Input should be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'"),
    ],
)
def test_a_setting_out_of_bounds_is_one_line_and_exit_2(
    tmp_path: Path, variable: str, value: str, sentence: str
) -> None:
    """The real CLI, before it starts anything: one line naming the variable."""
    env = clean_env(tmp_path, **{variable: value})
    result = subprocess.run(
        [sys.executable, "-m", "countq", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"countq: {variable}=")
    assert line.endswith(sentence)
