"""The repository's source files: what git tracks or would track."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# Installs, builds and caches that .gitignore should already hide, listed
# again so a gap there never lets generated files into a check.
NOT_SOURCE = {
    ".git",
    ".venv",
    ".venv-checkov",
    "node_modules",
    ".terraform",
    "dist",
    "build",
    ".data",
    ".cache",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
}


def source_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    return [
        name
        for name in listed
        if name
        and not NOT_SOURCE & set(Path(name).parts)
        and not any(part.endswith(".egg-info") for part in Path(name).parts)
        and (ROOT / name).is_file()
    ]
