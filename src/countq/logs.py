"""How the processes log: plain lines on a terminal, JSON lines in AWS
(LOG_FORMAT=json, set in the task environment) so CloudWatch Logs Insights can
query level, logger, message and the ids a line carries (`extra=`)."""

from __future__ import annotations

import logging
from typing import Any

from pythonjsonlogger.json import JsonFormatter

PLAIN = "%(asctime)s %(levelname)s %(name)s %(message)s"
# JSON keys: the LogRecord's attributes, under names an operator queries by.
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
JSON_NAMES = {"asctime": "time", "levelname": "level", "name": "logger"}


def formatter(log_format: str = "plain") -> logging.Formatter:
    """The formatter for LOG_FORMAT (also named by dictConfig, for uvicorn's workers)."""
    if log_format == "json":
        return JsonFormatter(JSON_FIELDS, rename_fields=JSON_NAMES)
    return logging.Formatter(PLAIN)


def config(log_format: str, level: str) -> dict[str, Any]:
    """A logging.config.dictConfig for the whole process, uvicorn's loggers
    included: uvicorn applies it again in each worker process it spawns."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"countq": {"()": "countq.logs.formatter", "log_format": log_format}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "countq",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        # Through the root's handler, not uvicorn's own plain ones.
        "loggers": {
            name: {"level": level, "handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        }
        # One line per Alembic plugin otherwise.
        | {"alembic.runtime.plugins": {"level": "WARNING"}},
    }
