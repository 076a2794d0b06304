"""tests/unit/ mirrors the package: the test of src/countq/<pkg>/<mod>.py is
tests/unit/<pkg>/test_<mod>.py (a package's __init__.py: test_init.py beside
where its modules' tests go), so the test of a module is found without a search."""

from __future__ import annotations

from pathlib import PurePosixPath

from tests.repo.contrib.tree import ROOT, source_files

UNIT = PurePosixPath("tests/unit")
PACKAGE = PurePosixPath("src/countq")
# Not tests: they make the folders packages or hold their fixtures. Helpers
# shared by tests live in tests/helpers/.
NOT_TESTS = {"__init__.py", "conftest.py"}


def module_under_test(test: PurePosixPath) -> PurePosixPath | None:
    """The module under src/countq that a file under tests/unit/ tests, or None."""
    if not test.name.startswith("test_") or test.suffix != ".py":
        return None
    module = test.name.removeprefix("test_")
    if module == "init.py":
        module = "__init__.py"
    return PACKAGE / test.relative_to(UNIT).parent / module


def misplaced(files: list[str], modules: set[PurePosixPath]) -> list[str]:
    """The files under tests/unit/ that stand where no module of the package does."""
    found = []
    for name in files:
        path = PurePosixPath(name)
        if UNIT not in path.parents:
            continue
        if path.name in NOT_TESTS:
            if (PACKAGE / path.relative_to(UNIT).parent / "__init__.py") not in modules:
                found.append(name)  # a folder that is no package of countq
            continue
        if module_under_test(path) not in modules:
            found.append(name)
    return found


def package_modules(files: list[str]) -> set[PurePosixPath]:
    return {
        PurePosixPath(name)
        for name in files
        if name.endswith(".py") and PACKAGE in PurePosixPath(name).parents
    }


def test_each_unit_test_stands_where_its_module_does() -> None:
    files = source_files()
    assert (ROOT / UNIT).is_dir()
    wrong = misplaced(files, package_modules(files))
    assert not wrong, (
        "a unit test of src/countq/<pkg>/<mod>.py is tests/unit/<pkg>/test_<mod>.py;"
        f" these match no module: {wrong}"
    )


def test_a_misplaced_file_is_named() -> None:
    modules = package_modules(
        [
            "src/countq/__init__.py",
            "src/countq/messages.py",
            "src/countq/db/__init__.py",
            "src/countq/db/repo.py",
        ]
    )
    planted = [
        "tests/unit/test_messages.py",
        "tests/unit/test_init.py",
        "tests/unit/__init__.py",
        "tests/unit/db/__init__.py",
        "tests/unit/db/test_repo.py",
        "tests/unit/test_repo.py",  # its module is in db/
        "tests/unit/db/test_messages.py",  # its module is at the top
        "tests/unit/test_uuid7_order.py",  # a topic, not a module
        "tests/unit/db/helpers.py",  # helpers go to tests/helpers/
        "tests/unit/worker/__init__.py",  # no such package here
        "tests/unit/db/data.json",
        "tests/integration/core/test_api.py",  # not a unit test: not checked
    ]
    assert misplaced(planted, modules) == [
        "tests/unit/test_repo.py",
        "tests/unit/db/test_messages.py",
        "tests/unit/test_uuid7_order.py",
        "tests/unit/db/helpers.py",
        "tests/unit/worker/__init__.py",
        "tests/unit/db/data.json",
    ]
