"""frontend/nginx.conf run by a real nginx: the page same-origin with the API.

The file is the image's, with only the container-specific locations (port,
upstream host, document root, /tmp) pointed at this test's own; everything
else (locations, headers, proxying) is exercised as written. nginx comes from
Debian's package (`make containers-tools`); the image runs nginx-unprivileged.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers.processes import free_port
from tests.helpers.services import require_tool
from tests.repo.containers.lib import NGINX, ROOT, container_ports, environment, services

NGINX_CACHE = ROOT / ".cache" / "containers" / "nginx"
API_PATHS = ("/count", "/health", "/ready", "/stats", "/metrics", "/docs", "/openapi.json")


def nginx_binary() -> tuple[str, Path]:
    """The nginx binary and the mime.types file that goes with it."""
    cached = NGINX_CACHE / "usr" / "sbin" / "nginx"
    if cached.is_file():
        return str(cached), NGINX_CACHE / "etc" / "nginx" / "mime.types"
    return require_tool("nginx"), Path("/etc/nginx/mime.types")


def replace_once(text: str, old: str, new: str, count: int = 1) -> str:
    assert text.count(old) == count, f"nginx.conf no longer has {count} x {old!r}"
    return text.replace(old, new)


@dataclass
class Seen:
    method: str
    path: str
    host: str
    body: bytes


class FakeProducer(http.server.ThreadingHTTPServer):
    """Stands in for the producer: records what nginx forwards."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(handler) -> None:
                length = int(handler.headers.get("Content-Length") or 0)
                body = handler.rfile.read(length) if length else b""
                self.seen.append(Seen(handler.command, handler.path, handler.headers["Host"], body))
                payload = json.dumps({"path": handler.path}).encode()
                handler.send_response(200)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", str(len(payload)))
                handler.end_headers()
                handler.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(handler, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@dataclass
class Frontend:
    url: str
    producer: FakeProducer


@pytest.fixture(scope="module")
def frontend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Frontend]:
    nginx, mime_types = nginx_binary()
    tmp = tmp_path_factory.mktemp("nginx")
    html = tmp / "html"
    (html / "assets").mkdir(parents=True)
    (html / "index.html").write_text("<!doctype html><title>countq</title>")
    (html / "assets" / "app-1234.js").write_text("console.log(1)")

    producer = FakeProducer()
    threading.Thread(target=producer.serve_forever, daemon=True).start()
    port = free_port()
    conf = NGINX.read_text().replace(" /tmp/", f" {tmp}/")
    conf = replace_once(conf, "include /etc/nginx/mime.types;", f"include {mime_types};")
    conf = replace_once(conf, "listen 8080;", f"listen 127.0.0.1:{port};")
    conf = replace_once(
        conf, "http://producer:5080", f"http://127.0.0.1:{producer.server_port}", count=2
    )
    conf = replace_once(conf, "root /usr/share/nginx/html;", f"root {html};")
    path = tmp / "nginx.conf"
    path.write_text(conf)

    base = [nginx, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(path)]
    check = subprocess.run([*base, "-t"], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    log = (tmp / "nginx.out").open("wb")
    # One process, in the foreground, as this user: nothing to switch or fork.
    proc = subprocess.Popen(
        [*base, "-g", "daemon off; master_process off;"], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, (tmp / "nginx.out").read_text()
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        yield Frontend(url, producer)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        producer.shutdown()
        producer.server_close()


def test_compose_frontend_matches_the_config() -> None:
    conf = NGINX.read_text()
    frontend = services()["frontend"]
    assert container_ports(frontend) == [8080] and "listen 8080;" in conf
    port = environment(services()["producer"])["HTTP_PORT"]
    assert f"http://producer:{port}" in conf, "nginx proxies to the producer's HTTP_PORT"
    assert "pid /tmp/nginx.pid;" in conf
    temp_paths = [line.split()[1] for line in conf.splitlines() if "_temp_path " in line]
    assert len(temp_paths) == 5 and all(p.startswith("/tmp/") for p in temp_paths)


def test_own_health_check_does_not_touch_the_producer(frontend: Frontend) -> None:
    before = len(frontend.producer.seen)
    response = httpx.get(f"{frontend.url}/healthz")
    assert response.status_code == 200 and response.text == "ok\n"
    assert len(frontend.producer.seen) == before


@pytest.mark.parametrize("path", API_PATHS)
def test_api_paths_reach_the_producer_unchanged(frontend: Frontend, path: str) -> None:
    response = httpx.get(f"{frontend.url}{path}?probe=1")
    assert response.status_code == 200
    assert response.json() == {"path": f"{path}?probe=1"}
    assert frontend.producer.seen[-1].host == f"127.0.0.1:{frontend.url.rsplit(':', 1)[1]}"


def test_post_count_is_forwarded_with_its_body(frontend: Frontend) -> None:
    response = httpx.post(f"{frontend.url}/count", json={"count": 7})
    assert response.status_code == 200
    seen = frontend.producer.seen[-1]
    assert (seen.method, seen.path, json.loads(seen.body)) == ("POST", "/count", {"count": 7})


def test_page_and_client_routes_are_served_locally(frontend: Frontend) -> None:
    before = len(frontend.producer.seen)
    for path in ("/", "/index.html", "/some/client/route", "/counts"):
        response = httpx.get(f"{frontend.url}{path}")
        assert response.status_code == 200, path
        assert "<title>countq</title>" in response.text, path
        assert response.headers["cache-control"] == "no-cache", path
        assert response.headers["x-content-type-options"] == "nosniff", path
    assert len(frontend.producer.seen) == before, "only the API paths go to the producer"


def test_hashed_assets_are_cached_for_good(frontend: Frontend) -> None:
    response = httpx.get(f"{frontend.url}/assets/app-1234.js")
    assert response.status_code == 200
    assert "immutable" in response.headers["cache-control"]
    assert response.headers["content-type"].startswith(
        ("application/javascript", "text/javascript")
    )
