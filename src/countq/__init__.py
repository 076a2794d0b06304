"""countq: HTTP producer -> Redis Stream -> consumer -> MySQL."""

from importlib.metadata import PackageNotFoundError, version

try:
    # pyproject.toml's version, the one place it is written.
    __version__ = version("countq")
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"
