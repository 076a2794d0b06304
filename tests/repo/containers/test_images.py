"""Both images, built from the Dockerfiles unchanged and run on a real engine.

The app containers run as compose runs them (init, read-only root, a /tmp
tmpfs, no capabilities) on the host network, against this machine's MariaDB
and Redis, each test with its own database, queue name and ports. The
frontend runs on a network of its own, in front of a real producer.
"""

from __future__ import annotations

import json
import re
import time

import httpx
import pymysql
import pytest
from sqlalchemy.engine import make_url

from tests.helpers.processes import free_port, wait_http, wait_until
from tests.helpers.services import MYSQL, REDIS_URL
from tests.repo.containers.api import post_counts, stats, stored_rows, wait_drained
from tests.repo.containers.engine import Docker, mysql_ca_for_tests
from tests.repo.containers.lib import APP_USER, DOCKERFILES, parse_dockerfile

# Builds and runs both images on a real Docker engine: make test-fast leaves it out.
pytestmark = pytest.mark.slow

# As compose.yaml runs the app services (and ECS: readonlyRootFilesystem).
HARDENED = (
    *("--read-only", "--tmpfs", "/tmp"),
    *("--cap-drop", "ALL", "--security-opt", "no-new-privileges:true"),
)
APP = (*HARDENED, "--init", "--network", "host")
# The image's own HEALTHCHECK command, probed every second instead of every
# ten so the test takes seconds; retries, timeout and start period are the image's.
FAST_PROBES = ("--health-interval", "1s")
API_PATHS = ("/health", "/ready", "/count", "/stats", "/metrics", "/openapi.json", "/docs")


def app_env(database_url: str, queue: str, port: int, **extra: str) -> list[str]:
    """`-e` flags for an app container on the host network."""
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "REDIS_QUEUE": queue,
        "HTTP_PORT": str(port),
        # The consumer's own port once it has one; Settings ignores it until then.
        "CONSUMER_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    return [flag for key, value in env.items() for flag in ("-e", f"{key}={value}")]


def run_migrate(docker: Docker, image: str, database_url: str, queue: str) -> None:
    result = docker.once(
        image, "countq", "migrate", options=[*APP, *app_env(database_url, queue, free_port())]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def start_app(
    docker: Docker,
    image: str,
    command: str,
    database_url: str,
    queue: str,
    name: str | None = None,
    **extra: str,
) -> tuple[str, int]:
    """A producer or consumer container; its id and HTTP port."""
    port = free_port()
    container = docker.start(
        name or command, image, "countq", command,
        options=[*APP, *FAST_PROBES, *app_env(database_url, queue, port, **extra)],
    )  # fmt: skip
    return container, port


def stop_every_process(docker: Docker, container: str) -> None:
    """SIGSTOP every process of the container's user but PID 1 (kill -1 spares
    it): the countq process under --init, nginx's workers under its master."""
    result = docker.exec(container, "sh", "-c", "kill -s STOP -- -1")
    assert result.returncode == 0, result.stderr


# --- the app image -------------------------------------------------------------

PROBE = """
import json, os, sys, countq
places = dict.fromkeys(["/", "/etc", "/usr/local/bin", os.environ["HOME"], "/tmp",
                        os.path.dirname(os.path.dirname(countq.__file__))])
writable = []
for place in places:
    try:
        with open(os.path.join(place, ".probe"), "w"):
            writable.append(place)
    except OSError:
        pass
leftovers = [p for p in ("/wheels", "/src") if os.path.exists(p) and os.listdir(p)]
print(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "writable": writable,
                  "leftovers": leftovers}))
"""


@pytest.mark.parametrize("read_only", [True, False], ids=["read-only", "writable-root"])
def test_app_runs_as_uid_10001_and_writes_only_to_tmp(
    docker: Docker, app_image: str, read_only: bool
) -> None:
    options = HARDENED if read_only else ("--cap-drop", "ALL")
    result = docker.once(app_image, "python", "-c", PROBE, options=[*options, "--network", "none"])
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert f"{probe['uid']}:{probe['gid']}" == APP_USER
    # Even on a writable root, the installed package belongs to root.
    assert probe["writable"] == ["/tmp"], probe
    assert probe["leftovers"] == [], "the wheels and sources stay in the builder stage"
    config = docker.inspect(app_image)["Config"]
    assert config["User"] == APP_USER
    assert config["Healthcheck"]["Test"] == ["CMD", "countq", "check"]


def test_app_image_carries_the_mysql_ca_it_was_built_with(docker: Docker, app_image: str) -> None:
    """MYSQL_CA_PEM (the test's CA: AWS's bundle cannot be fetched here) lands
    where the ECS task's MYSQL_TLS_CA points, root's and read-only."""
    result = docker.once(
        app_image, "sh", "-c", "stat -c '%U %a' /etc/countq/mysql-ca.pem"
        " && cat /etc/countq/mysql-ca.pem", options=["--network", "none"],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    owner, pem = result.stdout.split("\n", 1)
    assert owner == "root 444"
    assert pem.strip() == mysql_ca_for_tests().strip()


# The diff id of a layer that changes nothing (WORKDIR of a directory that exists).
EMPTY_LAYER = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"


def added_layers(docker: Docker, image: str, base: str) -> list[str]:
    """The layers `image` puts on top of `base`, empty ones left out."""
    layers = docker.inspect(image)["RootFS"]["Layers"]
    base_layers = docker.inspect(base)["RootFS"]["Layers"]
    assert layers[: len(base_layers)] == base_layers, f"{image} is not built on {base}"
    return [layer for layer in layers[len(base_layers) :] if layer != EMPTY_LAYER]


def test_images_add_only_the_application_to_their_base(
    docker: Docker, app_image: str, frontend_image: str
) -> None:
    """One layer of installed wheels on python; nginx.conf and the page on nginx.
    Sizes (docs/containers.md, "The images"): printed with -s."""
    app_base, frontend_base = (parse_dockerfile(p)[-1].base for p in DOCKERFILES)
    assert len(added_layers(docker, app_image, app_base)) == 1, "wheels come by bind mount"
    assert len(added_layers(docker, frontend_image, frontend_base)) == 2
    app_mb = (docker.image_size(app_image) - docker.image_size(app_base)) / 1e6
    page_mb = (docker.image_size(frontend_image) - docker.image_size(frontend_base)) / 1e6
    print(f"\nimage sizes over the base: app {app_mb:.1f} MB, frontend {page_mb:.2f} MB")
    assert app_mb < 200 and page_mb < 5, (app_mb, page_mb)


# Any RSA public key will do: this one was made for this test.
SERVER_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAk1xH7Vg712ce1g8/kykP
IkTeGNrB+Rat277qPw+U0bMp/G4AvGwu2ihfr7tc7q3GFM8RucZViFH1uI84cf23
EoiX6szjtWhVCCE53sJJGsrlVAqTA25J9mbfdcdkjPGCpIrW25hYmeofbCFWWTpZ
eo5jOSEZCU51pdsY3qFl3WrzadpwYvkrTk4nvSa2mf7R8I7/ZXIHECdTvPDp6j/X
bHdYZHOTDq0Kdm9NWf7mJ/7tE7MxIxbEM01fomn4cdhemRpHDxZyQq6bK9aA+xyC
otoK/gmPUU4+gA16HacHKeVlSWt6ZLyJjZHU8UfvTvLWpk/oG4wCjbkt55G3Tqme
lwIDAQAB
-----END PUBLIC KEY-----
"""


def test_app_image_can_log_in_to_mysql_8_without_tls(docker: Docker, app_image: str) -> None:
    """mysql:8.4 logs users in with caching_sha2_password. Over a connection
    without TLS, as in compose, PyMySQL's first login sends the password
    encrypted with the server's RSA key, which needs `cryptography` in the
    image (pymysql[rsa]). The MariaDB stand-in cannot show this; this does."""
    encrypt = (
        "import sys, pymysql._auth as auth;"
        "print(len(auth.sha2_rsa_encrypt(b'password', b'0' * 20, sys.argv[1].encode())))"
    )
    result = docker.once(
        app_image, "python", "-c", encrypt, SERVER_PUBLIC_KEY, options=["--network", "none"]
    )
    assert result.stdout.strip() == "256", (
        "PyMySQL in the image cannot log in to MySQL 8 without TLS: "
        "pyproject.toml needs pymysql[rsa]\n" + result.stderr[-400:]
    )


def test_migrate_producer_and_consumer_run_from_the_image_and_sigterm_stops_cleanly(
    docker: Docker, app_image: str, mysql_database: str, redis_queue: str
) -> None:
    run_migrate(docker, app_image, mysql_database, redis_queue)
    database = make_url(mysql_database).database
    with pymysql.connect(**MYSQL, database=database) as db, db.cursor() as cur:
        cur.execute("SELECT version_num FROM alembic_version")
        assert cur.fetchone(), "countq migrate left the schema at its head revision"
    producer, port = start_app(docker, app_image, "producer", mysql_database, redis_queue)
    idle, _ = start_app(docker, app_image, "consumer", mysql_database, redis_queue)
    docker.wait_health({"producer": producer, "consumer": idle}, "healthy", timeout=60)
    url = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{url}/ready").json()["status"] == "ready"
    post_counts(url, range(200))
    wait_drained(url, 200, timeout=30)
    stop_within_10s(docker, idle)

    # Then a backlog, and a consumer stopped while it drains it. Small batches
    # and a stop as soon as the drain is under way: it lands mid-drain however
    # fast this machine is. A short reclaim delay lets the next consumer take
    # over what the first read ahead.
    n = 200 + 3_000
    post_counts(url, range(3_000))
    slow = {"CONSUMER_BATCH_SIZE": "10", "CLAIM_IDLE_MS": "500"}
    draining, _ = start_app(
        docker, app_image, "consumer", mysql_database, redis_queue, name="draining", **slow
    )
    wait_until(lambda: stored_rows(url) >= 300, timeout=60, interval=0.02)
    stop_within_10s(docker, draining)
    stored = stored_rows(url)
    assert stored < n, "the stop must land mid-drain"
    queue = stats(url)
    # Acked entries leave the stream; every entry not stored must still be in it.
    assert queue["backlog"] + queue["pending"] >= n - stored, (queue, stored)
    after, _ = start_app(
        docker, app_image, "consumer", mysql_database, redis_queue, name="after",
        CLAIM_IDLE_MS="500",
    )  # fmt: skip
    wait_drained(url, n, timeout=120, context=docker.logs(after))


def stop_within_10s(docker: Docker, container: str) -> None:
    """`docker stop` (SIGTERM, SIGKILL after 10 s): a clean exit 0, well before."""
    started = time.monotonic()
    docker("stop", "--time", "10", container)
    elapsed = time.monotonic() - started
    state = docker.inspect(container)["State"]
    assert (state["ExitCode"], state["OOMKilled"]) == (0, False), docker.logs(container)
    assert elapsed < 10, f"docker stop took {elapsed:.1f}s: SIGKILL, not a clean stop"


def test_health_checks_turn_healthy_then_unhealthy_under_sigstop(
    docker: Docker, app_image: str, frontend_image: str, mysql_database: str, redis_queue: str
) -> None:
    run_migrate(docker, app_image, mysql_database, redis_queue)
    containers = {
        role: start_app(docker, app_image, role, mysql_database, redis_queue)[0]
        for role in ("producer", "consumer")
    }
    containers["frontend"] = docker.start(
        "frontend", frontend_image,
        options=[*HARDENED, *FAST_PROBES, "--network", docker.network("net")],
    )  # fmt: skip
    docker.wait_health(containers, "healthy", timeout=60)
    for container in containers.values():
        stop_every_process(docker, container)
    # Three failed probes in a row; a probe that hangs fails at the image's timeout.
    docker.wait_health(containers, "unhealthy", timeout=90)


# --- the frontend image ----------------------------------------------------------


def published(docker: Docker, container: str, port: int) -> str:
    binding = docker("port", container, f"{port}/tcp").stdout.split()[0]
    return f"http://{binding}"


def test_frontend_serves_the_page_and_proxies_the_api_to_the_producer(
    docker: Docker, app_image: str, frontend_image: str
) -> None:
    network = docker.network("net")
    # A real producer named `producer` on the frontend's network, with no Redis
    # or database behind it: every API path still answers, 200 or 503.
    producer = docker.start(
        "producer", app_image, "countq", "producer",
        options=[*HARDENED, "--init", "--network", network, "--network-alias", "producer",
                 "-e", "REDIS_HOST=127.0.0.1", "-e", "REDIS_PORT=1",
                 "-e", "MYSQL_HOST=127.0.0.1", "-e", "MYSQL_PORT=1",
                 "-p", "127.0.0.1::5080"],
    )  # fmt: skip
    frontend = docker.start(
        "frontend", frontend_image,
        options=[*HARDENED, "--network", network, "-p", "127.0.0.1::8080"],
    )  # fmt: skip
    direct, page = published(docker, producer, 5080), published(docker, frontend, 8080)
    wait_http(f"{direct}/health", timeout=60)
    wait_http(f"{page}/healthz", timeout=30)
    assert docker.inspect(frontend)["Config"]["User"] == "101:101"

    for path in API_PATHS:
        via, straight = httpx.get(f"{page}{path}"), httpx.get(f"{direct}{path}")
        assert via.status_code == straight.status_code, path
        assert via.headers["content-type"] == straight.headers["content-type"], path
        if path != "/metrics":  # counters move between the two requests
            assert via.content == straight.content, path
    assert (
        httpx.get(f"{page}/health").json()["hostname"]
        == docker.inspect(producer)["Config"]["Hostname"]
    )
    posted = httpx.post(f"{page}/count", json={"count": 7})
    assert posted.status_code == 503 and "Redis" in posted.json()["detail"], posted.text

    index = httpx.get(f"{page}/")
    assert index.status_code == 200 and '<div id="root">' in index.text
    assert index.headers["cache-control"] == "no-cache"
    assert httpx.get(f"{page}/some/client/route").text == index.text
    script = re.search(r'src="\.?/(assets/[^"]+\.js)"', index.text)
    assert script, index.text
    asset = httpx.get(f"{page}/{script[1]}")
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    assert httpx.get(f"{page}/healthz").text == "ok\n"
