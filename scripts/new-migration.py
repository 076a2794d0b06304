#!/usr/bin/env python3
"""Write the next Alembic revision: `make migration MSG="add the x column"`.

Usage: scripts/new-migration.py MIGRATIONS_DIR MESSAGE

Revision ids are sequential (0001, 0002, ...) so the files sort in the order
they apply; Alembic's default random ids would not. There is no alembic.ini:
countq finds the scripts by path, and so does this.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory


def new_revision(directory: str, message: str) -> Path:
    config = Config()
    config.set_main_option("script_location", directory)
    head = ScriptDirectory.from_config(config).get_current_head() or "0000"
    script = command.revision(config, message=message, rev_id=f"{int(head) + 1:04d}")
    assert script is not None and not isinstance(script, list)
    path = Path(script.path)
    # Straight to the project's style; what is left for `make lint` to flag is
    # the part only the author can write (the unused op/sa until upgrade() uses them).
    ruff = str(Path(sys.executable).parent / "ruff")
    subprocess.run([ruff, "check", "--quiet", "--select", "I", "--fix", str(path)], check=True)
    subprocess.run([ruff, "format", "--quiet", str(path)], check=True)
    return path


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: scripts/new-migration.py MIGRATIONS_DIR MESSAGE")
    new_revision(sys.argv[1], sys.argv[2])
