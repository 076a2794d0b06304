"""docs/configuration.md is generated from countq.config.Settings: it lists
every field, `--check` (make lint) fails when it is stale, and a field added
without a description fails it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import Field

from countq.config import Settings
from tests.helpers.services import ROOT

SCRIPT = ROOT / "scripts" / "docs_config.py"
PAGE = ROOT / "docs" / "configuration.md"
sys.path.insert(0, str(SCRIPT.parent))
import docs_config  # noqa: E402


def check() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60
    )


def test_the_page_is_what_settings_says() -> None:
    result = check()
    assert result.returncode == 0, result.stderr


def test_every_setting_has_a_row_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `([A-Z0-9_]+)` \| ([^|]+) \|", PAGE.read_text(), flags=re.M))
    assert set(rows) == {name.upper() for name in Settings.model_fields}
    assert rows["HTTP_PORT"].strip() == "`5080`"
    assert rows["LOG_LEVEL"].strip() == "`INFO`"


def test_bounds_are_shown() -> None:
    text = PAGE.read_text()
    assert re.search(r"^\| `WEB_CONCURRENCY` \| `1` \| ≥ 1 \|", text, flags=re.M)
    assert re.search(r"^\| `CONSUMER_PORT` \| `5081` \| ≥ 0, ≤ 65535 \|", text, flags=re.M)
    assert re.search(r"^\| `CLAIM_IDLE_MS` \| [^|]+ \| > 0 \|", text, flags=re.M)
    assert "one of `DEBUG`, `INFO`, `WARNING`, `ERROR`, `CRITICAL`" in text


def test_a_field_without_a_description_fails() -> None:
    class Planted(Settings):
        brand_new_knob: int = 3

    with pytest.raises(docs_config.Undescribed, match="brand_new_knob"):
        docs_config.table(Planted)


def test_a_described_new_field_makes_the_page_stale() -> None:
    class Planted(Settings):
        brand_new_knob: int = Field(3, ge=1, description="A knob")

    page = PAGE.read_text()
    rendered = docs_config.render(page, Planted)
    assert rendered != page
    assert "| `BRAND_NEW_KNOB` | `3` | ≥ 1 | A knob |" in rendered


def test_check_fails_on_a_stale_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text(PAGE.read_text().replace("| `HTTP_PORT` | `5080`", "| `HTTP_PORT` | `8080`"))
    monkeypatch.setattr(docs_config, "PAGE", stale)
    assert docs_config.main(["--check"]) == 1
    assert docs_config.main([]) == 0
    assert stale.read_text() == PAGE.read_text()
