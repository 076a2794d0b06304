"""docs.yml builds the site as `make lint` does on every pull request and push,
and publishes to GitHub Pages from main only, with the only write scopes
Pages needs, in the job that needs them. (Pinning, timeouts and the
permission rules every workflow follows: tests/repo/contrib/test_workflows.py.)"""

from __future__ import annotations

from typing import Any

import yaml

from tests.helpers.services import ROOT

DOCS = ROOT / ".github" / "workflows" / "docs.yml"


def workflow() -> dict[str, Any]:
    data = yaml.safe_load(DOCS.read_text())
    # PyYAML reads the key `on` as True.
    return {("on" if k is True else k): v for k, v in data.items()}


def test_every_pull_request_builds_the_site_strictly() -> None:
    on, build = workflow()["on"], workflow()["jobs"]["build"]
    assert "pull_request" in on and on["push"]["branches"] == ["main"]
    runs = [s["run"] for s in build["steps"] if "run" in s]
    assert "make docs-check docs-build" in runs
    assert build["permissions"] == {"contents": "read"}
    (upload,) = [s for s in build["steps"] if "upload-pages-artifact" in s.get("uses", "")]
    assert upload["with"]["path"] == "build/site"


def test_the_build_path_is_where_mkdocs_writes() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["site_dir"] == "build/site"


def test_only_main_publishes_and_only_publishing_may_write() -> None:
    publish = workflow()["jobs"]["publish"]
    assert publish["needs"] == "build"
    assert "refs/heads/main" in publish["if"] and "pull_request" in publish["if"]
    assert publish["permissions"] == {"pages": "write", "id-token": "write"}
    assert publish["environment"]["name"] == "github-pages"
    (step,) = publish["steps"]
    assert step["uses"].startswith("actions/deploy-pages@")
