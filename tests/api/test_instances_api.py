"""Process instances over HTTP: list and filter, get, cancel, suspend, resume, variables."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from engine.models import AuditEvent, ProcessInstance
from engine.services.instances import process_instance_start
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def instances(deployed, people):
    """Three review instances (two by approver, one by system) and one order instance."""
    deployed("review.bpmn", "order.bpmn")
    made = {}
    for name, key, who, variables, bk in [
        ("a", "review", "approver", {"amount": 100, "region": "north"}, "PO-1"),
        ("b", "review", "approver", {"amount": 900, "region": "south"}, "PO-2"),
        ("c", "review", "system", {"amount": 100, "vip": True}, "PO-3"),
        ("d", "order", "system", {}, "ORD-1"),
    ]:
        made[name], _ = process_instance_start(key=key, variables=variables, business_key=bk,
                                               actor=people[who])
    return made


def _ids(response):
    assert response.status_code == 200, response.content
    return sorted(item["id"] for item in response.json()["results"])


def test_filters_narrow_the_instance_list(as_user, instances):
    client = as_user("admin")
    a, b, c, d = (instances[k].pk for k in "abcd")

    assert _ids(client.get("/api/v1/process-instances/")) == sorted([a, b, c, d])
    assert _ids(client.get("/api/v1/process-instances/?key=review")) == sorted([a, b, c])
    assert _ids(client.get(f"/api/v1/process-instances/?definition_id="
                           f"{instances['d'].definition_id}")) == [d]
    assert _ids(client.get("/api/v1/process-instances/?business_key=PO-2")) == [b]
    assert _ids(client.get("/api/v1/process-instances/?started_by=system")) == sorted([c, d])
    assert _ids(client.get("/api/v1/process-instances/?variable=amount=100")) == sorted([a, c])
    assert _ids(client.get("/api/v1/process-instances/?variable=amount=100"
                           "&variable=region=north")) == [a]
    assert _ids(client.get("/api/v1/process-instances/?variable=vip=true")) == [c]
    assert _ids(client.get("/api/v1/process-instances/?status=completed")) == []
    soon = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert _ids(client.get("/api/v1/process-instances/", {"started_after": soon})) == []
    assert len(_ids(client.get("/api/v1/process-instances/", {"started_before": soon}))) == 4


def test_pagination_of_instances(as_user, instances):
    page = as_user("admin").get("/api/v1/process-instances/?page_size=3").json()
    rest = as_user("admin").get(page["next"]).json()

    assert page["count"] == 4 and len(page["results"]) == 3 and len(rest["results"]) == 1
    assert_problem(as_user("admin").get("/api/v1/process-instances/?page=99"), 404,
                   "not-found")


@pytest.mark.parametrize("query", ["status=sleeping", "started_after=yesterday",
                                   "definition_id=abc", "variable=novalue"])
def test_bad_filters_are_400_naming_the_parameter(as_user, instances, query):
    body = assert_problem(as_user("admin").get(f"/api/v1/process-instances/?{query}"), 400,
                          "request.invalid")
    assert query.split("=")[0] in body["errors"]


def test_approvers_see_only_the_instances_they_started(as_user, instances):
    client = as_user("approver")

    assert _ids(client.get("/api/v1/process-instances/")) == sorted(
        [instances["a"].pk, instances["b"].pk])
    assert_problem(client.get(f"/api/v1/process-instances/{instances['c'].pk}/"), 404,
                   "instance.not-found")


def test_instance_detail(as_user, instances):
    body = as_user("auditor").get(f"/api/v1/process-instances/{instances['d'].pk}/").json()

    assert body["status"] == "running" and body["definition"]["key"] == "order"
    assert body["active_elements"] == [{"element_id": "WaitPayment", "tokens": 1}]
    assert body["open_tasks"] == [] and body["incidents"] == []
    assert_problem(as_user("auditor").get("/api/v1/process-instances/999999/"), 404,
                   "instance.not-found")


def test_suspend_resume_and_cancel_are_audited_with_the_admin(as_user, instances):
    client = as_user("admin")
    pk = instances["a"].pk

    suspended = client.post(f"/api/v1/process-instances/{pk}/suspend/")
    again = client.post(f"/api/v1/process-instances/{pk}/suspend/")
    resumed = client.post(f"/api/v1/process-instances/{pk}/resume/")
    cancelled = client.post(f"/api/v1/process-instances/{pk}/cancel/", {"reason": "dup"},
                            format="json")
    after = client.post(f"/api/v1/process-instances/{pk}/resume/")

    assert suspended.json()["status"] == "suspended"
    assert_problem(again, 409, "status.invalid-transition")
    assert resumed.json()["status"] == "running"
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["open_tasks"] == []
    assert_problem(after, 409, "status.invalid-transition")
    kinds = list(AuditEvent.objects.filter(instance_id=pk, actor="admin")
                 .values_list("kind", flat=True))
    assert {"suspended", "resumed"} <= set(kinds)


def test_set_variables_merges_and_audits(as_user, instances):
    client = as_user("admin")
    pk = instances["a"].pk

    response = client.post(f"/api/v1/process-instances/{pk}/variables/",
                           {"variables": {"amount": 150, "note": "checked"}}, format="json")

    assert response.json()["variables"] == {"amount": 150, "region": "north", "note": "checked"}
    assert client.get(f"/api/v1/process-instances/{pk}/variables/").json()["variables"][
        "amount"] == 150
    sets = AuditEvent.objects.filter(instance_id=pk, kind="variable set", actor="admin")
    assert sorted(e.data["name"] for e in sets) == ["amount", "note"]


@pytest.mark.parametrize(("body", "code"), [
    ("{}", "request.invalid"), ('{"variables": {}}', "request.invalid"),
    ('{"variables": "x"}', "request.invalid"), ('{"variables": {"x": Infinity}}',
                                                "request.malformed"),
    ('{"variables": {"x": 1', "request.malformed")])
def test_bad_variables_change_nothing(as_user, instances, body, code):
    pk = instances["a"].pk
    before = ProcessInstance.objects.get(pk=pk).state

    response = as_user("admin").post(f"/api/v1/process-instances/{pk}/variables/", body,
                                     content_type="application/json")

    assert_problem(response, 400, code)
    assert ProcessInstance.objects.get(pk=pk).state == before


def test_writes_on_unknown_instances_are_404(as_user, db):
    client = as_user("admin")
    for action in ("cancel", "suspend", "resume"):
        assert_problem(client.post(f"/api/v1/process-instances/999999/{action}/"), 404,
                       "instance.not-found")
    assert_problem(client.post("/api/v1/process-instances/999999/variables/",
                               {"variables": {"a": 1}}, format="json"), 404,
                   "instance.not-found")


def test_a_start_token_sees_only_the_instances_its_user_started(as_token, instances):
    client = as_token("start", user="system")

    assert _ids(client.get("/api/v1/process-instances/")) == sorted(
        [instances["c"].pk, instances["d"].pk])
    assert_problem(client.get(f"/api/v1/process-instances/{instances['a'].pk}/"), 404,
                   "instance.not-found")
    assert len(_ids(as_token("history").get("/api/v1/process-instances/"))) == 4
