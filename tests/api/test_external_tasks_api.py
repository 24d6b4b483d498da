"""External tasks over HTTP: fetch and lock, complete, failure, BPMN error, locks."""

from __future__ import annotations

import pytest
from django.utils import timezone

from engine.models import Incident, Job, ProcessInstance
from engine.services.instances import process_instance_start
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db

FETCH = "/api/v1/external-tasks/fetch-and-lock/"


@pytest.fixture
def charge(deployed, people):
    deployed("charge.bpmn")
    instance, _ = process_instance_start(key="charge", business_key="C-1",
                                         variables={"amount": 30, "card": "4242"},
                                         actor=people["system"])
    return instance


@pytest.fixture
def worker(as_token):
    return as_token("external_tasks")


def _fetch(client, worker_id="w1", **extra):
    body = {"worker_id": worker_id, "max_tasks": 5,
            "topics": [{"topic_name": "charge", "lock_duration": 60_000}], **extra}
    return client.post(FETCH, body, format="json")


def test_fetch_and_lock_gives_the_task_with_its_variables(worker, charge):
    response = _fetch(worker, topics=[{"topic_name": "charge", "lock_duration": 60_000,
                                       "variables": ["amount"]}])

    assert response.status_code == 200, response.content
    [task] = response.json()
    assert (task["topic_name"], task["worker_id"], task["activity_id"]) == ("charge", "w1",
                                                                           "Charge")
    assert (task["process_instance_id"], task["business_key"]) == (charge.pk, "C-1")
    assert task["variables"] == {"amount": 30}
    assert _fetch(worker, worker_id="w2").json() == []  # locked by w1


def test_complete_moves_the_process_on_with_the_variables(worker, charge):
    [task] = _fetch(worker).json()

    response = worker.post(f"/api/v1/external-tasks/{task['id']}/complete/",
                           {"worker_id": "w1", "variables": {"receipt": "R-9"}}, format="json")

    assert response.status_code == 200, response.content
    instance = ProcessInstance.objects.get(pk=charge.pk)
    assert instance.status == "completed"


def test_complete_by_another_worker_is_409_and_changes_nothing(worker, charge):
    [task] = _fetch(worker).json()

    response = worker.post(f"/api/v1/external-tasks/{task['id']}/complete/",
                           {"worker_id": "intruder"}, format="json")

    assert_problem(response, 409, "external-task.locked-by-other")
    assert ProcessInstance.objects.get(pk=charge.pk).status == "running"


def test_complete_after_the_lock_expired_is_409_and_changes_nothing(worker, charge):
    [task] = _fetch(worker).json()
    Job.objects.filter(pk=task["id"]).update(lease_expires_at=timezone.now())

    response = worker.post(f"/api/v1/external-tasks/{task['id']}/complete/",
                           {"worker_id": "w1"}, format="json")

    assert_problem(response, 409, "external-task.lock-expired")
    assert ProcessInstance.objects.get(pk=charge.pk).status == "running"


def test_failure_with_retries_left_then_none_raises_an_incident(worker, charge):
    [task] = _fetch(worker).json()
    url = f"/api/v1/external-tasks/{task['id']}/failure/"

    worker.post(url, {"worker_id": "w1", "error_message": "timeout", "retries": 1,
                      "retry_timeout": 0}, format="json")
    [again] = _fetch(worker).json()
    last = worker.post(url, {"worker_id": "w1", "error_message": "still down",
                             "error_details": "trace", "retries": 0}, format="json")

    assert again["id"] == task["id"] and again["retries"] == 1
    assert last.status_code == 200, last.content
    incident = Incident.objects.get(instance_id=charge.pk)
    assert "still down" in incident.message and incident.resolved_at is None
    assert _fetch(worker).json() == []


def test_failure_with_a_retry_timeout_hides_the_task_until_then(worker, charge):
    [task] = _fetch(worker).json()
    worker.post(f"/api/v1/external-tasks/{task['id']}/failure/",
                {"worker_id": "w1", "error_message": "busy", "retries": 2,
                 "retry_timeout": 60_000}, format="json")

    assert _fetch(worker).json() == []


def test_bpmn_error_takes_the_error_boundary(worker, charge):
    [task] = _fetch(worker).json()

    response = worker.post(f"/api/v1/external-tasks/{task['id']}/bpmn-error/",
                           {"worker_id": "w1", "error_code": "CARD_DECLINED",
                            "variables": {"reason": "expired"}}, format="json")

    assert response.status_code == 200, response.content
    from engine.models import AuditEvent

    instance = ProcessInstance.objects.get(pk=charge.pk)
    assert instance.status == "completed"
    assert AuditEvent.objects.filter(instance_id=charge.pk, element_id="DeclinedEnd").exists()


def test_extend_lock_and_unlock(worker, charge, as_user):
    [task] = _fetch(worker).json()
    before = Job.objects.get(pk=task["id"]).lease_expires_at

    extended = worker.post(f"/api/v1/external-tasks/{task['id']}/extend-lock/",
                           {"worker_id": "w1", "new_duration": 600_000}, format="json")
    unlocked = as_user("admin").post(f"/api/v1/external-tasks/{task['id']}/unlock/")

    assert extended.status_code == 200 and unlocked.status_code == 200
    assert [t["id"] for t in _fetch(worker, worker_id="w2").json()] == [task["id"]]
    assert before is not None


def test_external_task_list_for_admins(as_user, charge):
    body = as_user("admin").get("/api/v1/external-tasks/?topic=charge").json()

    assert [(t["topic"], t["element_id"]) for t in body["results"]] == [("charge", "Charge")]


@pytest.mark.parametrize("body", [
    {"max_tasks": 1, "topics": [{"topic_name": "charge", "lock_duration": 1000}]},
    {"worker_id": "w", "topics": []},
    {"worker_id": "w", "topics": [{"topic_name": "charge", "lock_duration": -1}]},
    {"worker_id": "w", "topics": [{"topic_name": "charge"}]},
    {"worker_id": "w", "max_tasks": "ten", "topics": [{"topic_name": "c",
                                                       "lock_duration": 1}]},
    {"worker_id": "w", "async_response_timeout": 10**9,
     "topics": [{"topic_name": "c", "lock_duration": 1}]},
])
def test_bad_fetch_requests_are_400_and_lock_nothing(worker, charge, body):
    assert_problem(worker.post(FETCH, body, format="json"), 400, "request.invalid")
    assert Job.objects.get(instance=charge).lease_owner is None


def test_unknown_external_task_is_404(worker, db):
    for action, body in (("complete", {"worker_id": "w"}),
                         ("failure", {"worker_id": "w", "error_message": "x"}),
                         ("bpmn-error", {"worker_id": "w", "error_code": "E"}),
                         ("extend-lock", {"worker_id": "w", "new_duration": 10})):
        assert_problem(worker.post(f"/api/v1/external-tasks/999999/{action}/", body,
                                   format="json"), 404, "external-task.not-found")


def test_long_polling_waits_then_returns_empty(worker, db):
    import time

    began = time.monotonic()
    response = _fetch(worker, async_response_timeout=300)

    assert response.json() == [] and time.monotonic() - began >= 0.25
