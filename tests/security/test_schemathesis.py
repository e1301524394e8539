"""Bad input: schemathesis generates requests from /openapi.json; none may answer 500.

A bounded run (a few derandomized examples per operation) keeps the suite fast; raise
LAMINA_SCHEMATHESIS_EXAMPLES for a longer hunt. Invocations are left out (they run containers; the
execution tests cover their bad input).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from support.auth import bearer  # noqa: E402

EXAMPLES = int(os.environ.get("LAMINA_SCHEMATHESIS_EXAMPLES", "3"))
SKIP = ("/invocations", "/invoke-async", "/lamina-url")


def test_no_generated_request_gets_a_server_error(app: Any, components: Any, credentials: Any) -> None:
    # The fuzzer is meant to be fast: lift the per-account rate limit so 429s hide no answer.
    app.extensions["lamina"].settings = components.settings.with_(api_rate_per_s=0)
    try:
        schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
        headers = {"Authorization": bearer(credentials)}
        failures: list[str] = []
        tried = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            if any(part in operation.path for part in SKIP):
                continue
            tried += 1

            @given(case=operation.as_strategy())
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case: Any) -> None:
                response = case.call(headers=headers)
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path}: {response.status_code} "
                                    f"{response.text[:300]}")

            run()
        assert tried > 30
        assert not failures, "\n".join(failures[:20])
    finally:
        app.extensions["lamina"].settings = components.settings
