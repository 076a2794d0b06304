"""What the docs generators share: a generated block between two markers of a
hand-written page, rewritten in place, or checked (`--check`, in `make lint`).
scripts/docs_config.py and scripts/docs_results.py use it."""

from __future__ import annotations

import sys
from pathlib import Path


def replace_block(page: Path, text: str, begin: str, end: str, block: str) -> str:
    """`text` (the page's) with what lies between the markers replaced by `block`."""
    try:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
    except ValueError:
        raise SystemExit(f"{page}: the markers {begin!r} and {end!r} are missing") from None
    return f"{head}{begin}\n\n{block}\n\n{end}{tail}"


def write_or_check(page: Path, wanted: str, check: bool, stale: str) -> int:
    """Exit status: with `check`, 1 (and `stale` on stderr) when the page differs;
    without, the page rewritten when it differs."""
    current = page.read_text(encoding="utf-8")
    if wanted == current:
        return 0
    if check:
        print(stale, file=sys.stderr)
        return 1
    page.write_text(wanted, encoding="utf-8")
    print(f"wrote {page}")
    return 0
