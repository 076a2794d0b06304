"""Runs one Lambda handler the way the python3.11 runtime does, for the deploy
replay: the function's code directory first on sys.path, then what the
runtime itself provides (boto3 and its dependencies), nothing else; the
handler string split at its last dot into module and function, the event as
a dict, and a context that knows the time left. Prints the result (or, for an
exception, the error payload Lambda returns) as JSON on the last line of
stdout, after whatever the handler printed (Lambda sends that to CloudWatch
Logs, e.g. embedded-metric lines).

Usage: python -I -S lambda_bootstrap.py TASK_ROOT HANDLER EVENT_JSON TIMEOUT_SECONDS
                                        [RUNTIME_DIR...]
(-I -S: no PYTHONPATH, no user or venv site-packages, no script directory.)
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback


class Context:
    def __init__(self, timeout: float) -> None:
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def main() -> None:
    task_root, handler, event_path, timeout = sys.argv[1:5]
    sys.path[:0] = [task_root]
    sys.path += sys.argv[5:]
    with open(event_path, "rb") as f:
        event = json.loads(f.read() or b"{}")
    try:
        module_name, _, function_name = handler.rpartition(".")
        module = importlib.import_module(module_name)
        if not module.__file__ or not module.__file__.startswith(task_root):
            raise ImportError(f"{module_name} came from {module.__file__}, not the function's zip")
        result = getattr(module, function_name)(event, Context(float(timeout)))
    except Exception as exc:
        result = {
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "stackTrace": traceback.format_exception(exc),
        }
    print(json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
