"""Two identical starts with one Idempotency-Key at the same moment start one instance."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from engine.models import ProcessInstance
from tasks_portal.api.models import IdempotencyRecord
from tests.markers import needs_postgresql_row_locks


@needs_postgresql_row_locks
@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_start_one_instance_and_answer_201_then_200(people, deployed):
    from tasks_portal.api.tokens import api_token_create

    deployed("review.bpmn")
    _, token = api_token_create(user=people["system"], scopes=["start"])
    barrier = threading.Barrier(4)
    statuses: list[int] = []
    ids: list[int] = []

    def start() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        barrier.wait()
        try:
            response = client.post("/api/v1/process-definitions/review/start/",
                                   {"business_key": "PO-1"}, format="json",
                                   HTTP_IDEMPOTENCY_KEY="race")
            statuses.append(response.status_code)
            ids.append(response.json()["id"])
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200, 200, 200, 201]
    assert len(set(ids)) == 1
    assert ProcessInstance.objects.count() == 1 and IdempotencyRecord.objects.count() == 1
