"""Generated requests from the app's own OpenAPI schema: never a 5xx.

The app runs on the real Redis and MariaDB, so a 503 here would mean a real
outage; the property is that no generated input, valid or not, makes it fail.
"""

from __future__ import annotations

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode

from countq.api.app import create_app
from countq.config import Settings


def test_no_input_makes_the_server_fail(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
        operations = [result.ok() for result in schema.get_all_operations()]
        statuses: list[int] = []
        assert {op.path for op in operations} >= {"/count", "/health", "/ready", "/stats"}
        for operation in operations:
            # Only POST /count takes input; there is nothing to negate elsewhere.
            has_body = operation.method.upper() == "POST"
            modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if has_body else [])
            for mode in modes:

                @hypothesis_settings(
                    max_examples=50, deadline=None, suppress_health_check=list(HealthCheck)
                )
                @given(case=operation.as_strategy(generation_mode=mode))
                def call(case: schemathesis.Case) -> None:
                    kwargs = case.as_transport_kwargs(base_url=str(client.base_url))
                    if isinstance(kwargs.get("data"), bytes | str):  # raw body: httpx's name
                        kwargs["content"] = kwargs.pop("data")
                    kwargs.pop("cookies", None)
                    response = client.request(**kwargs)
                    statuses.append(response.status_code)
                    assert response.status_code < 500, (case.method, case.body, response.text)

                call()
    # Both sides were exercised: accepted counts and refused inputs.
    assert 202 in statuses
    assert any(400 <= status < 500 for status in statuses)
