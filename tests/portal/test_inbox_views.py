"""Inbox pages: the lists, filters, sort, saved views, bulk actions, SLA dashboard and
notifications, each seen by the people who may see them and by nobody else."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.utils import timezone

from engine.models import SavedInboxView, UserTask
from engine.selectors import process_instance_variables
from engine.services.user_tasks import user_task_claim, user_task_complete
from tasks_portal.models import Notification
from tasks_portal.roles import APPROVER, PROCESS_ADMIN
from tests.portal.test_forms import start_task

pytestmark = pytest.mark.django_db


def make_user(name: str, *groups: str) -> Any:
    user = get_user_model().objects.create_user(name, password=f"pw-{name}-123")
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_team() -> dict[str, Any]:
    """ann and bob approve for managers, fay is in finance, eve is in no group, root admins."""
    return {
        "ann": make_user("ann", APPROVER, "managers"),
        "bob": make_user("bob", APPROVER, "managers"),
        "fay": make_user("fay", APPROVER, "finance"),
        "eve": make_user("eve"),
        "root": make_user("root", PROCESS_ADMIN),
    }


@pytest.fixture
def team() -> dict[str, Any]:
    return make_team()


def listed(response: Any) -> list[int]:
    """Task ids in the rendered list, in order."""
    return [int(i) for i in re.findall(r'<tr data-task-id="(\d+)"', response.content.decode())]


def test_inbox_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get("/tasks/")

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_group_list_shows_a_task_to_its_group_and_not_to_others(team):
    task = start_task("forms_decision.bpmn", business_key="PO-1")

    ann = client_for(team["ann"]).get("/tasks/?view=group")
    eve = client_for(team["eve"]).get("/tasks/?view=group")
    fay = client_for(team["fay"]).get("/tasks/?view=group")

    assert listed(ann) == [task.pk]
    body = ann.content.decode()
    for column in ("Task", "Process", "Business key", "Created", "Due / SLA", "Priority",
                   "Assignee"):
        assert f'<th scope="col">{column}</th>' in body or f">{column}</th>" in body
    assert "PO-1" in body and "Plain approval" in body and "No due date" in body
    assert listed(eve) == [] and listed(fay) == []


def test_a_claimed_task_moves_from_the_group_list_to_mine(team):
    task = start_task("forms_decision.bpmn")
    ann = client_for(team["ann"])

    response = ann.post(f"/tasks/{task.pk}/claim/")

    assert response.status_code == 302
    assert listed(ann.get("/tasks/?view=mine")) == [task.pk]
    assert listed(ann.get("/tasks/?view=group")) == []
    assert listed(client_for(team["bob"]).get("/tasks/?view=group")) == []


def test_the_all_list_is_for_process_admins_only(team):
    task = start_task("forms_decision.bpmn")

    admin = client_for(team["root"]).get("/tasks/?view=all")
    ann = client_for(team["ann"]).get("/tasks/?view=all")

    assert listed(admin) == [task.pk] and ">All</a>" in admin.content.decode()
    assert ann.status_code == 200 and listed(ann) == []
    assert "There is no list &#x27;all&#x27; for you" in ann.content.decode()
    assert ">All</a>" not in ann.content.decode()


def test_filters_narrow_the_list(team):
    first = start_task("forms_decision.bpmn", {"amount": 1200, "customer": "ACME"}, "PO-1")
    second = start_task("forms_decision.bpmn", {"amount": 80, "customer": "Initech"}, "PO-2")
    late = start_task("forms_decision.bpmn", {"amount": 80}, "PO-3")
    now = timezone.now()
    UserTask.objects.filter(pk=late.pk).update(due=now - timedelta(hours=1))
    UserTask.objects.filter(pk=second.pk).update(due=now + timedelta(days=2), priority=90)
    ann = client_for(team["ann"])

    assert listed(ann.get("/tasks/?view=group&business_key=PO-2")) == [second.pk]
    assert listed(ann.get("/tasks/?view=group&q=po-1")) == [first.pk]
    assert listed(ann.get("/tasks/?view=group&sla=breached")) == [late.pk]
    assert listed(ann.get("/tasks/?view=group&priority_min=80")) == [second.pk]
    assert listed(ann.get("/tasks/?view=group&var.amount=80&order=created")) == [second.pk,
                                                                               late.pk]
    assert listed(ann.get("/tasks/?view=group&var_name=customer&var_value=ACME")) == [first.pk]
    assert listed(ann.get("/tasks/?view=group&process=forms_decision&task=Approve"
                          "&order=created")) == [first.pk, second.pk, late.pk]
    assert listed(ann.get("/tasks/?view=group&process=forms_formdata")) == []
    body = ann.get("/tasks/?view=group").content.decode()
    assert "Breached" in body and "On track" in body
    assert "<span>amount</span> 1200" in body


def test_sort_orders_by_due_priority_and_created(team):
    a = start_task("forms_decision.bpmn")
    b = start_task("forms_decision.bpmn")
    c = start_task("forms_decision.bpmn")
    now = timezone.now()
    UserTask.objects.filter(pk=a.pk).update(due=now + timedelta(days=3), priority=10)
    UserTask.objects.filter(pk=b.pk).update(due=now + timedelta(days=1), priority=30)
    UserTask.objects.filter(pk=c.pk).update(due=None, priority=90)
    ann = client_for(team["ann"])

    assert listed(ann.get("/tasks/?view=group&order=due")) == [b.pk, a.pk, c.pk]
    assert listed(ann.get("/tasks/?view=group&order=priority")) == [c.pk, b.pk, a.pk]
    assert listed(ann.get("/tasks/?view=group&order=-created")) == [c.pk, b.pk, a.pk]
    UserTask.objects.filter(pk=a.pk).update(at_risk_at=now - timedelta(hours=1))
    assert listed(ann.get("/tasks/?view=group&order=sla")) == [a.pk, b.pk, c.pk]


def test_bad_filter_values_are_reported_not_crashing(team):
    response = client_for(team["ann"]).get("/tasks/?priority_min=high&order=sideways")

    body = response.content.decode()
    assert response.status_code == 200
    assert "Filters not applied: priority_min &#x27;high&#x27; is not a whole number" in body
    assert "Unknown sort order" in body


def test_the_fragment_is_only_the_list_for_the_live_refresh(team):
    task = start_task("forms_decision.bpmn")

    response = client_for(team["ann"]).get("/tasks/?view=group&fragment=1")

    body = response.content.decode()
    assert "<html" not in body and 'id="bulk-form"' in body
    assert listed(response) == [task.pk]


def test_a_saved_view_shared_with_a_group_is_offered_to_its_members(team):
    start_task("forms_decision.bpmn", business_key="PO-9")
    ann = client_for(team["ann"])

    saved = ann.post("/tasks/views/", {"name": "Purchase 9", "view": "group", "order": "due",
                                       "business_key": "PO-9", "var.amount": "80",
                                       "shared_with": "managers"})

    row = SavedInboxView.objects.get(name="Purchase 9")
    assert saved.status_code == 302 and "business_key=PO-9" in saved["Location"]
    assert row.filters == {"business_key": "PO-9", "variables": {"amount": 80}}
    assert "Purchase 9" in client_for(team["bob"]).get("/tasks/").content.decode()
    assert "Purchase 9" not in client_for(team["fay"]).get("/tasks/").content.decode()
    # Only the owner may delete it.
    client_for(team["bob"]).post(f"/tasks/views/{row.pk}/delete/")
    assert SavedInboxView.objects.filter(pk=row.pk).exists()
    ann.post(f"/tasks/views/{row.pk}/delete/")
    assert not SavedInboxView.objects.filter(pk=row.pk).exists()


def test_sharing_a_view_with_a_group_one_is_not_in_is_refused(team):
    response = client_for(team["ann"]).post(
        "/tasks/views/", {"name": "Sneaky", "view": "mine", "shared_with": "finance"},
        follow=True)

    assert not SavedInboxView.objects.filter(name="Sneaky").exists()
    assert "The view was not saved" in response.content.decode()


def test_bulk_claim_takes_the_selected_tasks_and_reports_those_it_cannot(team):
    one = start_task("forms_decision.bpmn")
    two = start_task("forms_decision.bpmn")
    taken = start_task("forms_decision.bpmn")
    foreign = start_task("forms_formdata.bpmn", {"initiator": "x"})
    user_task_claim(task_id=taken.pk, actor=team["bob"])

    response = client_for(team["ann"]).post(
        "/tasks/bulk/", {"action": "claim", "task": [one.pk, two.pk, taken.pk, foreign.pk]},
        follow=True)

    body = response.content.decode()
    assert set(UserTask.objects.filter(assignee=team["ann"]).values_list("pk", flat=True)) == {
        one.pk, two.pk}
    assert "2 task(s) claimed." in body
    assert f"Task {taken.pk}: " in body and "bob" in body
    assert f"Task {foreign.pk}: not found." in body
    assert UserTask.objects.get(pk=foreign.pk).assignee_id is None


def test_bulk_complete_applies_one_decision_to_every_selected_task(team):
    tasks = [start_task("forms_decision.bpmn") for _ in range(3)]
    ann = client_for(team["ann"])
    for task in tasks:
        user_task_claim(task_id=task.pk, actor=team["ann"])

    refused = ann.post("/tasks/bulk/", {"action": "complete", "decision": "reject",
                                        "task": [t.pk for t in tasks]}, follow=True)
    assert "Nothing was completed: comment: Say why you reject." in refused.content.decode()
    assert UserTask.objects.filter(pk__in=[t.pk for t in tasks], status="completed").count() == 0

    ann.post("/tasks/bulk/", {"action": "complete", "decision": "reject", "comment": "dup",
                              "task": [t.pk for t in tasks]})

    for task in tasks:
        task.refresh_from_db()
        task.instance.refresh_from_db()
        assert task.status == "completed" and task.completed_by_id == team["ann"].pk
        assert process_instance_variables(instance=task.instance)["approved"] is False


def test_bulk_reassign_is_for_admins(team):
    task = start_task("forms_decision.bpmn")

    refused = client_for(team["ann"]).post("/tasks/bulk/", {"action": "assign",
                                                             "assignee": "ann",
                                                             "task": [task.pk]})
    client_for(team["root"]).post("/tasks/bulk/", {"action": "assign", "assignee": "bob",
                                                   "task": [task.pk]})

    assert refused.status_code == 403
    assert UserTask.objects.get(pk=task.pk).assignee_id == team["bob"].pk


def test_bulk_without_selection_says_so(team):
    response = client_for(team["ann"]).post("/tasks/bulk/", {"action": "claim"}, follow=True)

    assert "Select at least one task first." in response.content.decode()


def test_navigation_links_inbox_dashboard_and_notifications(team):
    body = client_for(team["ann"]).get("/").content.decode()

    assert 'href="/tasks/">Inbox</a>' in body
    assert 'href="/tasks/sla/">Dashboard</a>' in body
    assert 'href="/notifications/"' in body and "data-unread-badge" in body


def test_notifications_list_the_users_own_and_mark_read(team):
    task = start_task("forms_decision.bpmn", business_key="PO-5")
    ann, eve = client_for(team["ann"]), client_for(team["eve"])
    mine = Notification.objects.filter(user=team["ann"])
    assert mine.count() == 1

    page = ann.get("/notifications/").content.decode()
    assert "PO-5" in page and f'href="/tasks/{task.pk}/"' in page
    assert ann.get("/notifications/unread.json").json() == {"unread": 1}
    assert eve.get("/notifications/unread.json").json() == {"unread": 0}

    eve.post("/notifications/read/", {"id": mine.get().pk})
    assert ann.get("/notifications/unread.json").json() == {"unread": 1}
    ann.post("/notifications/read/", {"id": mine.get().pk})
    assert ann.get("/notifications/unread.json").json() == {"unread": 0}


def test_sla_dashboard_counts_open_at_risk_breached_and_completion_times(team):
    now = timezone.now()
    tasks = [start_task("forms_decision.bpmn") for _ in range(4)]
    UserTask.objects.filter(pk=tasks[0].pk).update(due=now - timedelta(hours=2))
    UserTask.objects.filter(pk=tasks[1].pk).update(due=now + timedelta(hours=2),
                                                   at_risk_at=now - timedelta(minutes=5))
    for task, minutes in ((tasks[2], 30), (tasks[3], 90)):
        UserTask.objects.filter(pk=task.pk).update(created_at=now - timedelta(minutes=minutes))
        user_task_complete(task_id=task.pk, actor=None, variables={"approved": True}, now=now)

    response = client_for(team["ann"]).get("/tasks/sla/?days=7")

    body = response.content.decode()
    row = re.search(r"<tr>\s*<td data-label=\"Process\"><code>forms_decision</code>.*?</tr>",
                    body, re.S)
    assert response.status_code == 200 and row is not None
    cells = re.findall(r'class="num">([^<]*)<', row.group(0))
    # open, at risk, breached, completed, late, median, p90
    assert cells[:5] == ["2", "1", "1", "2", "0"]
    assert cells[5] == "60 min" and cells[6] == "1.5 h"
    assert "<svg" in body and 'class="bar-breached"' in body


def test_sla_dashboard_is_refused_without_a_portal_role(team):
    assert client_for(team["eve"]).get("/tasks/sla/").status_code == 403


def test_the_inbox_costs_the_same_queries_for_3_and_30_tasks(team, django_assert_max_num_queries):
    ann = client_for(team["ann"])
    for _ in range(3):
        start_task("forms_decision.bpmn", {"amount": 1, "customer": "A"})
    ann.get("/tasks/?view=group")  # warm caches (permission ids, templates)
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert len(listed(ann.get("/tasks/?view=group"))) == 3
    for _ in range(27):
        start_task("forms_decision.bpmn", {"amount": 1, "customer": "A"})
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(listed(ann.get("/tasks/?view=group"))) == 30


def _demo_reviews(*variables: dict[str, object]) -> list[UserTask]:
    from pathlib import Path

    from engine.services.deployments import deployment_create
    from engine.services.instances import process_instance_start

    demo = Path(__file__).resolve().parents[2] / "engine" / "demo" / "approval.bpmn"
    definition = deployment_create(files=[("approval.bpmn", demo.read_bytes())],
                                   actor=None).process_definitions.get()
    tasks = []
    for values in variables:
        instance, _ = process_instance_start(definition_id=definition.pk, variables=values)
        tasks.append(UserTask.objects.get(instance=instance, element_id="Task_Review"))
    return tasks


def test_bulk_complete_sets_the_decision_field_of_a_form_and_keeps_each_tasks_values(team):
    small, large, missing = _demo_reviews({"amount": 300}, {"amount": 900}, {})
    for task in (small, large, missing):
        user_task_claim(task_id=task.pk, actor=team["ann"])

    response = client_for(team["ann"]).post("/tasks/bulk/", {
        "action": "complete", "decision": "approve", "comment": "fine",
        "task": [small.pk, large.pk, missing.pk]}, follow=True)

    body = response.content.decode()
    assert "2 task(s) completed." in body
    assert f"Task {missing.pk} was not completed: amount: This field is required." in body
    for task, amount in ((small, 300), (large, 900)):
        task.refresh_from_db()
        task.instance.refresh_from_db()
        variables = process_instance_variables(instance=task.instance)
        assert task.status == "completed"
        assert (variables["approved"], variables["comment"], variables["amount"]) == (
            True, "fine", amount)
    assert UserTask.objects.get(pk=missing.pk).status == "claimed"


def test_bulk_complete_refuses_forms_without_an_approve_field(team):
    sam = make_user("sam", APPROVER, "sales")
    task = start_task("forms_formjs.bpmn")
    user_task_claim(task_id=task.pk, actor=sam)

    response = client_for(sam).post("/tasks/bulk/", {"action": "complete",
                                                      "decision": "approve",
                                                      "task": [task.pk]}, follow=True)

    assert "has no approve/reject field" in response.content.decode()
    assert UserTask.objects.get(pk=task.pk).status == "claimed"


def test_opening_a_task_marks_its_notifications_read(team):
    task = start_task("forms_decision.bpmn")
    other = start_task("forms_decision.bpmn")
    ann = client_for(team["ann"])
    assert ann.get("/notifications/unread.json").json() == {"unread": 2}

    ann.get(f"/tasks/{task.pk}/")

    assert ann.get("/notifications/unread.json").json() == {"unread": 1}
    assert Notification.objects.get(user=team["ann"], task=other).read_at is None


def test_a_substitute_sees_the_absent_users_tasks_and_claims_one(team):
    from engine.services.user_tasks import task_substitution_create

    now = timezone.now()
    task_substitution_create(user=team["ann"], substitute=team["fay"],
                             starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1),
                             actor=team["ann"])
    task = start_task("forms_decision.bpmn", business_key="PO-77")
    fay = client_for(team["fay"])

    assert listed(fay.get("/tasks/?view=substituting")) == [task.pk]
    assert listed(fay.get("/tasks/?view=group")) == []
    assert fay.get(f"/tasks/{task.pk}/").status_code == 200
    fay.post(f"/tasks/{task.pk}/claim/")
    assert UserTask.objects.get(pk=task.pk).assignee_id == team["fay"].pk
    assert listed(fay.get("/tasks/?view=mine")) == [task.pk]


def test_pages_of_fifty_without_counting_every_task(team):
    tasks = [start_task("forms_decision.bpmn") for _ in range(51)]
    ann = client_for(team["ann"])

    first = ann.get("/tasks/?view=group&order=created")
    second = ann.get("/tasks/?view=group&order=created&page=2")

    assert listed(first) == [t.pk for t in tasks[:50]]
    assert "Tasks 1\N{EN DASH}50, more on the next page." in first.content.decode()
    assert 'page=2" rel="next"' in first.content.decode()
    assert listed(second) == [tasks[50].pk]
    assert "Tasks 51\N{EN DASH}51." in second.content.decode()
    assert 'page=1" rel="prev"' in second.content.decode()
    assert "0 tasks match the filters." in ann.get(
        "/tasks/?view=group&q=nothing-matches").content.decode()
