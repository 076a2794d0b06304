"""countq: HTTP producer -> Redis Stream -> consumer -> MySQL."""

__version__ = "0.1.0"
