"""The importer's results as JSON: fixed keys per kind, a note only when there is one."""

from __future__ import annotations

from countq.importer.run import Failed, Imported, ImportFailed


def test_results_as_json() -> None:
    assert Failed("import", False, "why").as_json() == {
        "action": "import",
        "ok": False,
        "error": "why",
    }
    imported = Imported("import", True, "b", "k", 3, 0, True)
    assert "note" not in imported.as_json()
    failed = ImportFailed("import", False, "b", "k", 4, 3, "e", 2, True, None, note="n")
    assert failed.as_json()["note"] == "n"
    assert failed.as_json()["committed_through_line"] is None
