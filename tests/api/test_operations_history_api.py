"""Jobs, incidents and history over HTTP."""

from __future__ import annotations

import csv
import io
import json

import pytest

from engine.models import AuditEvent, Incident, Job
from engine.services.external_tasks import (
    TopicRequest,
    external_task_failure,
    external_task_fetch_and_lock,
)
from engine.services.instances import process_instance_start
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(deployed, people):
    deployed("charge.bpmn")
    instance, _ = process_instance_start(key="charge", business_key="C-1",
                                         actor=people["system"])
    [task] = external_task_fetch_and_lock(worker_id="w", topics=[TopicRequest("charge", 1000)])
    external_task_failure(task_id=task.id, worker_id="w", error_message="card service down",
                          retries=0)
    return Incident.objects.get(instance=instance)


def test_jobs_and_incidents_are_listed(as_user, incident):
    client = as_user("auditor")

    jobs = client.get("/api/v1/jobs/?with_incident=true").json()
    incidents = client.get("/api/v1/incidents/").json()

    assert [j["element_id"] for j in jobs["results"]] == ["Charge"]
    assert jobs["results"][0]["retries_left"] == 0
    assert [(i["id"], i["process_key"]) for i in incidents["results"]] == [
        (incident.pk, "charge")]
    assert client.get("/api/v1/incidents/?resolved=true").json()["count"] == 0
    assert_problem(client.get("/api/v1/incidents/?resolved=maybe"), 400, "request.invalid")
    assert_problem(client.get("/api/v1/jobs/?instance_id=x"), 400, "request.invalid")
    # Past 64 bits no row can match; SQLite used to fail on such a number with a 500.
    assert_problem(client.get(f"/api/v1/incidents/?instance_id={2**64}"), 400,
                   "request.invalid")
    assert client.get(f"/api/v1/jobs/?instance_id={2**63 - 1}").json()["count"] == 0


def test_incident_retry_resolves_it_and_the_task_can_be_fetched_again(as_user, incident):
    response = as_user("admin").post(f"/api/v1/incidents/{incident.pk}/retry/",
                                     {"retries": 2}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["resolved_at"] is not None
    assert response.json()["resolved_by"] == "admin"
    assert Job.objects.get(pk=incident.job_id).retries_left == 2
    again = as_user("admin").post(f"/api/v1/incidents/{incident.pk}/retry/", {},
                                  format="json")
    assert_problem(again, 409, "incident.resolved")


def test_job_retry(as_user, incident):
    response = as_user("admin").post(f"/api/v1/jobs/{incident.job_id}/retry/", {},
                                     format="json")

    assert response.status_code == 200, response.content
    assert response.json()["retries_left"] == 1
    assert_problem(as_user("admin").post(f"/api/v1/jobs/{incident.job_id}/retry/", {},
                                         format="json"), 409, "job.not-retryable")


def test_retry_of_unknown_ids_and_bad_retries(as_user, incident):
    client = as_user("admin")

    assert_problem(client.post("/api/v1/incidents/999999/retry/", {}, format="json"), 404,
                   "incident.not-found")
    assert_problem(client.post("/api/v1/jobs/999999/retry/", {}, format="json"), 404,
                   "job.not-found")
    assert_problem(client.post(f"/api/v1/incidents/{incident.pk}/retry/", {"retries": 0},
                               format="json"), 400, "request.invalid")
    assert Incident.objects.get(pk=incident.pk).resolved_at is None


def test_history_query_by_instance_kind_actor_and_time(as_user, incident, people):
    client = as_user("auditor")
    pk = incident.instance_id

    everything = client.get(f"/api/v1/history/events/?instance_id={pk}&page_size=500").json()
    some_kind = everything["results"][0]["kind"]
    started = client.get("/api/v1/history/events/", {"instance_id": pk, "kind": some_kind})
    by_key = client.get("/api/v1/history/events/?definition_key=charge&element_id=Charge")
    by_actor = client.get("/api/v1/history/events/?actor=admin").json()
    window = client.get("/api/v1/history/events/", {"since": "2999-01-01T00:00:00Z"}).json()

    assert everything["count"] == len(everything["results"]) > 2
    assert all(e["instance_id"] == pk for e in everything["results"])
    assert {e["kind"] for e in started.json()["results"]} == {some_kind}
    assert started.json()["count"] == sum(e["kind"] == some_kind
                                          for e in everything["results"])
    assert all(e["element_id"] == "Charge" for e in by_key.json()["results"])
    assert by_key.json()["count"] >= 1
    assert {e["actor"] for e in by_actor["results"]} == {"admin"}
    assert window["count"] == 0
    assert_problem(client.get("/api/v1/history/events/?since=2020-01-02T00:00:00Z"
                              "&until=2020-01-01T00:00:00Z"), 400, "request.invalid")
    assert_problem(client.get("/api/v1/history/events/?since=soon"), 400, "request.invalid")


def test_timeline_of_one_instance(as_user, incident):
    body = as_user("auditor").get(
        f"/api/v1/history/process-instances/{incident.instance_id}/timeline/").json()

    seqs = [e["seq"] for e in body["results"]]
    assert seqs == sorted(seqs) and seqs[0] == 1
    assert_problem(as_user("auditor").get("/api/v1/history/process-instances/999999/"
                                          "timeline/"), 404, "instance.not-found")


def test_csv_and_ndjson_exports_stream_every_matching_row(as_user, incident):
    client = as_user("auditor")
    pk = incident.instance_id
    expected = AuditEvent.objects.filter(instance_id=pk).count()

    csv_response = client.get(f"/api/v1/history/events/export.csv?instance_id={pk}")
    nd_response = client.get(f"/api/v1/history/events/export.ndjson?instance_id={pk}")

    assert csv_response.streaming and nd_response.streaming
    assert csv_response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(csv_response.streaming_content)
                                           .decode())))
    lines = b"".join(nd_response.streaming_content).decode().splitlines()
    assert len(rows) == len(lines) == expected
    assert {r["instance_id"] for r in rows} == {str(pk)}
    assert {json.loads(line)["process"] for line in lines} == {"charge"}
    assert_problem(client.get("/api/v1/history/events/export.csv?instance_id=x"), 400,
                   "request.invalid")


def test_approvers_cannot_read_history(as_user, incident):
    assert_problem(as_user("approver").get("/api/v1/history/events/"), 403, "auth.forbidden")


def test_instance_detail_lists_its_open_incident(as_user, incident):
    body = as_user("admin").get(f"/api/v1/process-instances/{incident.instance_id}/").json()

    assert [(i["id"], i["element_id"]) for i in body["incidents"]] == [(incident.pk, "Charge")]
    assert "card service down" in body["incidents"][0]["message"]
