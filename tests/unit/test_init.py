"""The version is written once, in pyproject.toml; the package and the API report it."""

from __future__ import annotations

import tomllib

import countq
from countq.api.app import create_app
from countq.config import Settings
from tests.helpers.services import ROOT


def test_the_package_and_the_api_report_pyprojects_version() -> None:
    written = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert countq.__version__ == written
    assert create_app(Settings()).version == written
