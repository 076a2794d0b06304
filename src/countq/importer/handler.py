"""Entry points: the Lambda's `handler`, and its twin on a shell, `countq importer`."""

from __future__ import annotations

import argparse
import json
import logging
import logging.config
import os
import time
from typing import Any

from countq import logs
from countq.config import Settings
from countq.errors import MaintenanceFailed
from countq.importer.run import run, unlimited

log = logging.getLogger("countq.importer")
_configured = False


def configure_logging() -> None:
    """The services' logging (countq.logs) from the same Settings, once per
    Lambda execution environment: LOG_FORMAT=json (set by Terraform) gives the
    same JSON lines in CloudWatch as the tasks'. It replaces the Lambda runtime's
    own handler; stderr reaches the function's log group as well. `countq
    importer` is configured by `countq` itself, and a caller that is neither (a
    test) keeps its own handlers."""
    global _configured
    if _configured or not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    settings = Settings()
    logging.config.dictConfig(logs.config(settings.log_format, settings.log_level))
    _configured = True


HORIZON_METRIC = "PartitionHorizonDays"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point."""
    configure_logging()
    time_left = getattr(context, "get_remaining_time_in_millis", unlimited)
    result = run(event if isinstance(event, dict) else {}, time_left).as_json()
    # One line per invocation that CloudWatch Logs Insights can parse.
    log.info("result %s", json.dumps(result, default=str))
    if result["action"] == "maintain":
        if not result["ok"]:
            raise MaintenanceFailed(json.dumps(result, default=str))
        if result["horizon_days"] is not None:
            print(horizon_metric(result["horizon_days"], Settings()), flush=True)
    return result


def horizon_metric(days: float, settings: Settings) -> str:
    """The partition horizon as one CloudWatch embedded metric format (EMF) line.

    Lambda sends the function's stdout to CloudWatch Logs, which extracts the
    metric from such a line: no PutMetricData call, so no permission and no
    route to the monitoring API are needed (the importer has neither).
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
    """
    return json.dumps(
        {
            "_aws": {
                "Timestamp": time.time_ns() // 1_000_000,
                "CloudWatchMetrics": [
                    {
                        "Namespace": settings.metrics_namespace or "countq",
                        "Dimensions": [["Environment"]],
                        "Metrics": [{"Name": HORIZON_METRIC, "Unit": "None"}],
                    }
                ],
            },
            "Environment": settings.metrics_environment,
            HORIZON_METRIC: days,
        }
    )


def main(argv: list[str] | None = None) -> int:
    """`countq importer provision | import --bucket B --key K`: prints the result as JSON."""
    parser = argparse.ArgumentParser(
        prog="countq importer", description="What the importer Lambda does, from a shell."
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser(
        "provision",
        help="create the database, run the migrations as the master user, "
        "create or update the application's user",
    )
    sub.add_parser("maintain", help="create partitions ahead, drop the ones past RETENTION_DAYS")
    imp = sub.add_parser("import", help="run an SQL dump from S3 (.gz accepted)")
    imp.add_argument("--bucket", required=True)
    imp.add_argument("--key", required=True)
    args = parser.parse_args(argv)
    event = {"action": args.action}
    if args.action == "import":
        event.update(bucket=args.bucket, key=args.key)
    result = run(event).as_json()
    print(json.dumps(result, indent=2, default=str))
    return 0 if result["ok"] else 1
