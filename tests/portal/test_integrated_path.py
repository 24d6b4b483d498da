"""The cheaper integrated task path keeps its rules: who hears of a task, which SLA policy
applies, and what a completion writes (on SQLite through the ORM, on PostgreSQL through
the prepared statements of engine.rows; both passes run these tests)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from engine.models import TaskSubstitution, UserTask
from engine.services.user_tasks import (
    OFFER_PERMS,
    _grant_groups,
    _grant_users,
    user_task_complete,
)
from tasks_portal.live import task_audience
from tasks_portal.models import Notification, SlaPolicy
from tasks_portal.roles import PROCESS_ADMIN
from tasks_portal.sla import policy_for
from tests.portal.test_forms import start_task

pytestmark = pytest.mark.django_db


def _users(*names: str) -> dict[str, Any]:
    users = get_user_model().objects
    return {name: users.create_user(name, password=f"pw-{name}-123") for name in names}


def test_the_audience_is_every_active_viewer_their_substitutes_and_the_admins() -> None:
    managers = Group.objects.create(name="managers")
    auditors = Group.objects.create(name="task-auditors")
    admins, _ = Group.objects.get_or_create(name=PROCESS_ADMIN)
    people = _users("member", "gone", "cand", "holder", "gholder", "sub", "oldsub",
                    "admin", "stranger")
    people["su"] = get_user_model().objects.create_superuser("su", password="pw-su-123")
    for name in ("member", "gone"):
        people[name].groups.add(managers)
    people["gholder"].groups.add(auditors)
    people["admin"].groups.add(admins)
    people["gone"].is_active = False
    people["gone"].save()
    now = timezone.now()
    TaskSubstitution.objects.create(user=people["member"], substitute=people["sub"],
                                    starts_at=now - timedelta(days=1),
                                    ends_at=now + timedelta(days=1), created_at=now)
    TaskSubstitution.objects.create(user=people["member"], substitute=people["oldsub"],
                                    starts_at=now - timedelta(days=3),
                                    ends_at=now - timedelta(days=2), created_at=now)
    task = start_task("forms_decision.bpmn")  # offered to the group "managers"
    task.candidate_users = ["cand", "nobody-of-that-name"]
    task.save(update_fields=["candidate_users"])
    _grant_users(task, [people["holder"].pk], OFFER_PERMS)
    _grant_groups(task, [auditors.pk], OFFER_PERMS)

    names = {u.username for u in get_user_model().objects.filter(pk__in=task_audience(task))}

    assert names == {"member", "cand", "holder", "gholder", "sub", "admin", "su"}


def test_a_task_of_a_process_without_candidates_has_only_the_admins_as_audience() -> None:
    admins, _ = Group.objects.get_or_create(name=PROCESS_ADMIN)
    people = _users("admin", "other")
    people["admin"].groups.add(admins)
    task = start_task("forms_decision.bpmn")
    task.candidate_groups = []
    task.group_offers.all().delete()
    task.group_permissions.all().delete()

    assert task_audience(task) == {people["admin"].pk}


def test_the_task_policy_wins_over_the_process_policy_and_others_do_not_apply() -> None:
    SlaPolicy.objects.create(process_key="p", element_id="", due_after=timedelta(hours=8))
    SlaPolicy.objects.create(process_key="p", element_id="Approve",
                             due_after=timedelta(hours=2))
    SlaPolicy.objects.create(process_key="q", element_id="Approve",
                             due_after=timedelta(hours=1))

    task_policy = policy_for("p", "Approve")
    process_policy = policy_for("p", "Other")

    assert task_policy is not None and task_policy.due_after == timedelta(hours=2)
    assert process_policy is not None and process_policy.due_after == timedelta(hours=8)
    assert policy_for("r", "Approve") is None


def test_completing_writes_status_time_and_completer_and_a_task_for_nobody_notifies_nobody(
) -> None:
    task = start_task("forms_decision.bpmn")
    at = timezone.now()

    user_task_complete(task_id=task.pk, actor=None, variables={"approved": True}, now=at)

    row = UserTask.objects.get(pk=task.pk)
    assert (row.status, row.completed_at, row.completed_by_id) == ("completed", at, None)
    # "managers" has no members: an offer to nobody leaves no notification rows.
    assert not Notification.objects.filter(task_id=task.pk).exists()
