"""countq.errors: one hierarchy under CountqError, and one name per concept."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import countq
from countq import errors
from countq.errors import BacklogFull, CountqError

# Control flow, not a failure (errors.py's docstring says why it is not there).
NOT_AN_ERROR = {"countq.worker.retry.Stopping"}


def countq_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in a countq module, by its qualified name."""
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(countq.__path__, "countq."):
        if ".migrations" in module_info.name or module_info.name.endswith("__main__"):
            continue  # Alembic's scripts run only inside Alembic; __main__ runs the CLI
        module = importlib.import_module(module_info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = cls
    return found


def test_every_countq_exception_is_defined_in_errors_py() -> None:
    elsewhere = {
        name
        for name, cls in countq_exceptions().items()
        if cls.__module__ != "countq.errors" and name not in NOT_AN_ERROR
    }
    assert not elsewhere


def test_every_class_derives_from_countq_error() -> None:
    defined = [cls for cls in countq_exceptions().values() if cls.__module__ == "countq.errors"]
    assert len(defined) >= 12
    assert all(issubclass(cls, CountqError) for cls in defined)


def test_one_name_per_concept() -> None:
    """No class under an old name's spelling: "backlog full" is BacklogFull alone."""
    names = [name for name, _ in inspect.getmembers(errors, inspect.isclass)]
    stems = [name.removesuffix("Error") for name in names if name != "CountqError"]
    assert len(stems) == len(set(stems))
    assert not any(hasattr(errors, old) for old in ("BacklogFullError", "NotReplayableError"))


def test_backlog_full_says_the_bound_as_the_api_answers_it() -> None:
    refused = BacklogFull(length=120, bound=100)
    assert str(refused) == "backlog is at its bound of 100 messages"
    assert (refused.length, refused.bound) == (120, 100)


@pytest.mark.parametrize(
    ("child", "family"),
    [
        (errors.BacklogFull, errors.QueueError),
        (errors.NotReplayable, errors.QueueError),
        (errors.NotReplicated, errors.QueueUnavailable),
        (errors.QueueUnavailable, errors.QueueError),
        (errors.Busy, errors.StoreError),
        (errors.MaintenanceFailed, errors.StoreError),
    ],
)
def test_families(child: type[CountqError], family: type[CountqError]) -> None:
    assert issubclass(child, family)
