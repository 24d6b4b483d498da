"""Version allocation under concurrent deployments of one key (PostgreSQL row locks)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from engine.models import ProcessDefinition
from engine.services.deployments import deployment_create
from tests.markers import needs_postgresql_row_locks

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_postgresql_row_locks,
]

ROUNDS = 5


def _variant(template: bytes, number: int) -> bytes:
    return template.replace(b'name="Minimal"', f'name="Minimal {number}"'.encode())


def _deploy_together(payloads: list[bytes]) -> list[BaseException]:
    """Deploy every payload from its own thread, all released at the same moment."""
    barrier = threading.Barrier(len(payloads))
    failures: list[BaseException] = []

    def deploy(data: bytes) -> None:
        try:
            barrier.wait(timeout=10)
            deployment_create(files=[("minimal.bpmn", data)], actor=None)
        except BaseException as exc:  # reported to the test thread below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deploy, args=(data,)) for data in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return failures


def test_concurrent_deployments_of_one_key_get_distinct_consecutive_versions(bpmn):
    template = bpmn("minimal_process.bpmn")

    failures: list[BaseException] = []
    for round_number in range(ROUNDS):
        # The first round races on the very first version, where no row exists to lock yet.
        payloads = [_variant(template, round_number * 2), _variant(template, round_number * 2 + 1)]
        failures += _deploy_together(payloads)

    assert failures == []
    versions = sorted(
        ProcessDefinition.objects.filter(key="minimal").values_list("version", flat=True)
    )
    assert versions == list(range(1, 2 * ROUNDS + 1))
