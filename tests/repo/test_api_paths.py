"""The API path list is written in three proxies; this test holds them to the app.

frontend/vite.config.ts (`npm run dev`), frontend/nginx.conf (the compose
frontend) and terraform/modules/frontend/variables.tf (CloudFront) each list
the paths they forward to the producer. Every route of the app goes through
every proxy, except the differences written below with their reasons; and no
proxy forwards a path the app does not serve.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from fnmatch import fnmatchcase

import hcl2
import pytest
from starlette.routing import Route

from countq.api.app import create_app
from countq.config import Settings
from tests.helpers.services import ROOT

VITE = ROOT / "frontend" / "vite.config.ts"
NGINX = ROOT / "frontend" / "nginx.conf"
CLOUDFRONT = ROOT / "terraform" / "modules" / "frontend" / "variables.tf"

# Routes no proxy forwards.
NOWHERE = {
    "/": "the page itself: each proxy serves the built frontend there",
    "/redoc": "/docs is the API's one published page; /redoc stays on the producer's port",
}
# Routes one proxy leaves out on purpose.
LEFT_OUT = {
    "vite": dict.fromkeys(
        ("/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect"),
        "npm run dev forwards what the page calls; the rest is on the producer's own port",
    ),
    "nginx": {},
    "cloudfront": {"/metrics": "the Prometheus figures stay inside the VPC, off the internet"},
}

Matcher = Callable[[str], bool]


def app_paths() -> set[str]:
    return {r.path for r in create_app(Settings()).routes if isinstance(r, Route)}


def vite() -> dict[str, Matcher]:
    """server.proxy's keys: a key without ^ matches every URL that starts with it."""
    listed = re.search(r"const apiPaths = (\[[^\]]*\]);", VITE.read_text())
    assert listed, "vite.config.ts no longer has `const apiPaths = [...]`"
    return {key: (lambda path, key=key: path.startswith(key)) for key in json.loads(listed[1])}


def nginx() -> dict[str, Matcher]:
    """The locations that proxy_pass: `~` a regular expression, else a prefix."""
    found: dict[str, Matcher] = {}
    for regex, location, body in re.findall(
        r"location\s+(~\s+)?(\S+)\s*\{([^}]*)\}", NGINX.read_text()
    ):
        if "proxy_pass" not in body:
            continue
        if regex:
            found[location] = lambda path, pattern=location: bool(re.search(pattern, path))
        else:
            found[location] = lambda path, prefix=location: path.startswith(prefix)
    return found


def cloudfront() -> dict[str, Matcher]:
    """The api_paths default: CloudFront path patterns (* matches anything, / included)."""
    with CLOUDFRONT.open() as f:
        (api_paths,) = [b['"api_paths"'] for b in hcl2.load(f)["variable"] if '"api_paths"' in b]
    patterns = [p.strip('"') for p in api_paths["default"]]
    return {p: (lambda path, pattern=p: fnmatchcase(path, pattern)) for p in patterns}


PROXIES: dict[str, Callable[[], dict[str, Matcher]]] = {
    "vite": vite,
    "nginx": nginx,
    "cloudfront": cloudfront,
}


@pytest.mark.parametrize("proxy", PROXIES)
def test_every_route_goes_through_but_the_differences_written_here(proxy: str) -> None:
    matchers = PROXIES[proxy]()
    forwarded = {p for p in app_paths() if any(m(p) for m in matchers.values())}
    meant = app_paths() - NOWHERE.keys() - LEFT_OUT[proxy].keys()
    assert forwarded == meant, f"{proxy}: forwarded {sorted(forwarded)}, meant {sorted(meant)}"


@pytest.mark.parametrize("proxy", PROXIES)
def test_no_proxy_forwards_a_path_the_app_does_not_serve(proxy: str) -> None:
    for pattern, matches in PROXIES[proxy]().items():
        assert any(matches(p) for p in app_paths()), f"{proxy}: {pattern} is no route of the app"


def test_every_difference_is_a_route_of_the_app() -> None:
    written = set(NOWHERE).union(*(set(paths) for paths in LEFT_OUT.values()))
    assert written <= app_paths(), f"stale: {sorted(written - app_paths())}"
