"""User tasks over HTTP, with the inbox's permissions: list, get, claim, complete, ..."""

from __future__ import annotations

import pytest

from engine.models import AuditEvent, ProcessInstance, UserTask
from engine.services.instances import process_instance_start
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(deployed, people):
    """An open review task offered to the group `managers` (approver, approver2)."""
    deployed("review.bpmn", "review.form")
    instance, _ = process_instance_start(key="review", business_key="PO-1",
                                         actor=people["system"])
    return UserTask.objects.get(instance=instance)


def test_group_and_mine_views(as_user, task):
    client = as_user("approver")

    group = client.get("/api/v1/tasks/?view=group").json()
    client.post(f"/api/v1/tasks/{task.pk}/claim/")
    mine = client.get("/api/v1/tasks/").json()
    group_after = client.get("/api/v1/tasks/?view=group").json()

    assert [t["id"] for t in group["results"]] == [task.pk]
    assert group["results"][0]["business_key"] == "PO-1"
    assert [t["id"] for t in mine["results"]] == [task.pk]
    assert group_after["count"] == 0
    assert_problem(client.get("/api/v1/tasks/?view=everything"), 400, "task.invalid-action")
    assert_problem(client.get("/api/v1/tasks/?view=all"), 403, "task.not-permitted")
    assert as_user("admin").get("/api/v1/tasks/?view=all").json()["count"] == 1


def test_task_detail_has_the_form_schema(as_user, task):
    body = as_user("approver").get(f"/api/v1/tasks/{task.pk}/").json()

    assert body["form"]["kind"] == "form-js" and body["form"]["form_id"] == "reviewForm"
    assert [(f["id"], f["required"]) for f in body["form"]["fields"]] == [
        ("amount", True), ("approved", False)]


def test_a_task_not_offered_to_you_is_404(as_user, task, people):
    from django.contrib.auth.models import Group

    people["nobody"].groups.add(Group.objects.get_or_create(name="approver")[0])

    for path in ("", "claim/", "complete/"):
        method = "get" if not path else "post"
        response = getattr(as_user("nobody"), method)(f"/api/v1/tasks/{task.pk}/{path}",
                                                     {}, format="json")
        assert_problem(response, 404, "task.not-found")
    assert UserTask.objects.get(pk=task.pk).status == "open"


def test_claiming_a_task_someone_else_holds_is_409_naming_them(as_user, task):
    as_user("approver").post(f"/api/v1/tasks/{task.pk}/claim/")

    body = assert_problem(as_user("approver2").post(f"/api/v1/tasks/{task.pk}/claim/"), 409,
                          "task.already-claimed")
    assert body["by"] == "approver"
    assert UserTask.objects.get(pk=task.pk).assignee_username == "approver"


def test_completing_a_task_someone_else_holds_is_refused_and_changes_nothing(as_user, task):
    as_user("approver").post(f"/api/v1/tasks/{task.pk}/claim/")

    response = as_user("approver2").post(f"/api/v1/tasks/{task.pk}/complete/",
                                         {"variables": {"amount": 1}}, format="json")

    assert response.status_code in (403, 409)
    assert response["Content-Type"] == "application/problem+json"
    assert UserTask.objects.get(pk=task.pk).status == "claimed"


def test_complete_with_valid_variables_moves_the_process_on(as_user, task):
    client = as_user("approver")
    client.post(f"/api/v1/tasks/{task.pk}/claim/")

    response = client.post(f"/api/v1/tasks/{task.pk}/complete/",
                           {"variables": {"amount": 250, "approved": True}}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "completed"
    instance = ProcessInstance.objects.get(pk=task.instance_id)
    assert instance.status == "completed"
    assert AuditEvent.objects.filter(instance_id=instance.pk, actor="approver").exists()


@pytest.mark.parametrize(("variables", "field"), [
    ({"approved": True}, "amount"),  # required field missing
    ({"amount": -5}, "amount"),  # below the form's min
    ({"amount": "lots"}, "amount"),  # wrong type
    ({"amount": 5, "hack": 1}, "hack"),  # not a field of the form
])
def test_complete_with_variables_the_form_refuses_is_400_and_changes_nothing(
        as_user, task, variables, field):
    client = as_user("approver")
    client.post(f"/api/v1/tasks/{task.pk}/claim/")

    response = client.post(f"/api/v1/tasks/{task.pk}/complete/", {"variables": variables},
                           format="json")

    body = assert_problem(response, 400, "task.invalid-variables")
    assert field in body["errors"]
    assert UserTask.objects.get(pk=task.pk).status == "claimed"
    assert ProcessInstance.objects.get(pk=task.instance_id).status == "running"


def test_completing_twice_is_409(as_user, task):
    client = as_user("approver")
    client.post(f"/api/v1/tasks/{task.pk}/claim/")
    client.post(f"/api/v1/tasks/{task.pk}/complete/", {"variables": {"amount": 1}},
                format="json")

    response = client.post(f"/api/v1/tasks/{task.pk}/complete/", {"variables": {"amount": 1}},
                           format="json")

    assert response.status_code in (404, 409)
    assert response["Content-Type"] == "application/problem+json"


def test_unclaim_hands_the_task_back(as_user, task):
    client = as_user("approver")
    client.post(f"/api/v1/tasks/{task.pk}/claim/")

    body = client.post(f"/api/v1/tasks/{task.pk}/unclaim/").json()

    assert body["status"] == "open" and body["assignee"] is None


def test_delegate_and_resolve_give_it_back_to_the_owner(as_user, task):
    owner = as_user("approver")
    owner.post(f"/api/v1/tasks/{task.pk}/claim/")

    delegated = owner.post(f"/api/v1/tasks/{task.pk}/delegate/", {"to": "approver2"},
                           format="json")
    resolved = as_user("approver2").post(f"/api/v1/tasks/{task.pk}/resolve/", {},
                                         format="json")

    assert delegated.status_code == 200, delegated.content
    assert delegated.json()["assignee"] == "approver2"
    assert resolved.status_code == 200, resolved.content
    assert resolved.json()["assignee"] == "approver"
    assert_problem(owner.post(f"/api/v1/tasks/{task.pk}/delegate/", {"to": "ghost"},
                              format="json"), 400, "request.invalid")


def test_comment_is_stored_with_its_author(as_user, task):
    response = as_user("approver").post(f"/api/v1/tasks/{task.pk}/comments/",
                                        {"text": "looks fine"}, format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["author"], response.json()["text"]) == ("approver", "looks fine")
    listed = as_user("approver2").get(f"/api/v1/tasks/{task.pk}/comments/").json()
    assert [(c["author"], c["text"]) for c in listed["results"]] == [("approver", "looks fine")]
    assert_problem(as_user("approver").post(f"/api/v1/tasks/{task.pk}/comments/", {},
                                            format="json"), 400, "request.invalid")


def test_a_tasks_token_acts_with_its_users_permissions(as_token, task):
    mine = as_token("tasks", user="approver")
    stranger = as_token("tasks", user="nobody")

    assert mine.post(f"/api/v1/tasks/{task.pk}/claim/").status_code == 200
    assert_problem(stranger.get(f"/api/v1/tasks/{task.pk}/"), 404, "task.not-found")


def test_unknown_task_ids_are_404(as_user, db):
    assert_problem(as_user("approver").get("/api/v1/tasks/999999/"), 404, "task.not-found")
    assert_problem(as_user("approver").post("/api/v1/tasks/999999/claim/"), 404,
                   "task.not-found")


def test_auditors_read_every_task_and_change_none(as_user, as_token, task):
    as_user("approver").post(f"/api/v1/tasks/{task.pk}/claim/")
    auditor = as_user("auditor")

    listed = auditor.get("/api/v1/tasks/?status=claimed").json()
    one = auditor.get(f"/api/v1/tasks/{task.pk}/").json()
    by_token = as_token("history").get("/api/v1/tasks/?process=review").json()

    assert [t["id"] for t in listed["results"]] == [task.pk]
    assert one["assignee"] == "approver" and one["form"]["kind"] == "form-js"
    assert [t["id"] for t in by_token["results"]] == [task.pk]
    assert auditor.get("/api/v1/tasks/?status=open").json()["count"] == 0
    for action in ("claim", "unclaim", "complete"):
        assert_problem(auditor.post(f"/api/v1/tasks/{task.pk}/{action}/", {}, format="json"),
                       403, "auth.forbidden")
    assert UserTask.objects.get(pk=task.pk).assignee_username == "approver"


def test_a_task_without_a_form_is_decided_with_approved_and_a_reason_to_reject(as_user,
                                                                              deployed, people):
    deployed("decide.bpmn")
    instance, _ = process_instance_start(key="decide", actor=people["system"])
    task = UserTask.objects.get(instance=instance)
    client = as_user("approver")
    client.post(f"/api/v1/tasks/{task.pk}/claim/")

    unexplained = client.post(f"/api/v1/tasks/{task.pk}/complete/",
                              {"variables": {"approved": False}}, format="json")
    approved = client.post(f"/api/v1/tasks/{task.pk}/complete/",
                           {"variables": {"approved": True}}, format="json")

    assert assert_problem(unexplained, 400, "task.invalid-variables")["errors"]["comment"]
    assert approved.status_code == 200, approved.content
    instance.refresh_from_db()
    assert instance.status == "completed" and instance.state["s"][0]["v"]["approved"] is True
