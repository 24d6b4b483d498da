"""Schemathesis against our own OpenAPI schema: no 5xx, and every response matches it.

Each operation gets a few generated requests, valid ones (positive) and broken ones
(negative), sent in-process through the WSGI app as a process admin with every scope, on a
database with a deployed model, an instance, a task and an external task to hit.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.django_db

SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
EXAMPLES = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture
def _keep_the_test_connection():
    """The WSGI app closes the database connection after each request (as in production);
    inside a test transaction that would end the test's own connection. Django's test
    client disconnects the same receivers."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(people, deployed, _keep_the_test_connection):
    """Something for the generated requests to find: ids 1.. exist for most objects."""
    from engine.services.instances import process_instance_start
    from tasks_portal.api.tokens import api_token_create

    deployed("review.bpmn", "review.form", "order.bpmn", "charge.bpmn")
    for key in ("review", "order", "charge"):
        process_instance_start(key=key, business_key=f"{key}-1", actor=people["admin"])
    _, token = api_token_create(user=people["admin"], scopes=[
        "deploy", "start", "correlate", "external_tasks", "history", "tasks", "operate"])
    return {"Authorization": f"Token {token}"}


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["positive", "negative"])
def test_operation_conforms_to_the_schema(world, operation, mode):
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        case.call_and_validate(headers=world, checks=CHECKS)

    check()
