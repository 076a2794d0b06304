"""The Lambda's entry point, `handler`; its twin on a shell is `countq importer`
(countq.cli.importer)."""

from __future__ import annotations

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
