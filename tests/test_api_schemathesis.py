"""Schemathesis over the OpenAPI document against the real server: every operation, valid and invalid
inputs, a bounded number of examples each; no 5xx, every answer within the documented statuses,
content types and schemas."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from psycopg.types.json import Jsonb
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from allixios.db.engine import connect
from tests.api_support import ServerThread, make_world, truncate


@pytest.fixture(scope="module")
def api(database_url):
    truncate(database_url)
    a = make_world(database_url, "alpha")
    with connect(database_url) as conn:  # fuzzing sends hundreds of requests: no rate limit in the way
        conn.execute("UPDATE tenants SET limits = %s", (Jsonb({"api_requests_per_minute_per_credential": 100000,
                                                               "api_requests_per_minute": 100000}),))
    from allixios.api.app import create_app

    with ServerThread(create_app(dispatch=False)) as server:
        yield server, a


EXAMPLES = 12  # per operation and generation mode: bounded so the suite stays quick


def test_every_operation_keeps_its_contract(api):
    # (schemathesis' pytest fixture loader does not work with this pytest; the hypothesis strategies do)
    from hypothesis import given
    from hypothesis.errors import Unsatisfiable

    server, a = api
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    headers = {"Authorization": f"Bearer {a.keys['owner']}"}
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    operations, failures = 0, []
    for result, mode in [(r, m) for r in schema.get_all_operations() for m in GenerationMode]:
        operation = result.ok()
        operations += mode is GenerationMode.POSITIVE

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate(base_url=server.url, headers=headers, checks=checks)

        try:
            run()
        except Unsatisfiable:  # no invalid input exists for an operation without parameters
            continue
        except BaseException as exc:  # noqa: B036 (FailureGroup) - keep going: report every operation that breaks its contract
            failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {str(exc)[:600]}")
    print(f"schemathesis: {operations} operations")
    assert operations >= 30
    assert not failures, "\n\n".join(failures)
