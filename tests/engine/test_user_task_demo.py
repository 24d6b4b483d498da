"""The demo approval process shows the inbox: groups, a validated form, due dates, four-eyes
between review and finance sign-off, and a manager's follow-up timer."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from engine.errors import FourEyesViolation
from engine.models import Job, UserTask
from engine.selectors import InboxFilters, user_task_inbox
from engine.services.instances import process_instance_start
from engine.services.user_tasks import user_task_claim, user_task_complete
from tests.engine._instances import NOW

pytestmark = pytest.mark.django_db


def _seeded():
    call_command("seed_demo", stdout=StringIO())
    return {u.username: u for u in get_user_model().objects.all()}


def test_a_large_request_goes_review_then_finance_with_four_eyes_and_a_reminder(db):
    people = _seeded()
    approver, approver2, manager = people["approver"], people["approver2"], people["manager"]
    instance, _ = process_instance_start(key="approval", now=NOW, business_key="REQ-1",
                                         variables={"amount": 5000, "requester": "dan"})
    review = UserTask.objects.get(instance=instance, element_id="Task_Review")
    assert review.candidate_groups == ["managers"]
    assert review.due == NOW + timedelta(days=2)
    assert review.list_variables == {"amount": 5000, "requester": "dan"}
    fields = {f["id"]: f for f in review.form["fields"]}
    assert fields["amount"]["required"] and fields["amount"]["max"] == "1000000"
    # seed_demo's own open requests are in that list too; this test follows REQ-1.
    this_one = InboxFilters(business_key="REQ-1")
    assert {t.pk for t in user_task_inbox(user=manager, view="group", now=NOW,
                                          filters=this_one)} == {review.pk}
    assert list(user_task_inbox(user=approver2, view="group", now=NOW)) == []

    user_task_claim(task_id=review.pk, actor=approver, now=NOW)
    user_task_complete(task_id=review.pk, actor=approver, now=NOW,
                       variables={"amount": 5000, "approved": True})
    finance = UserTask.objects.get(instance=instance, element_id="Task_Finance")
    assert finance.candidate_groups == ["finance"] and finance.due == NOW + timedelta(days=3)
    # approver reviewed it, so approver (also in finance) may not sign it off.
    assert list(user_task_inbox(user=approver2, view="group", now=NOW)) == [finance]
    with pytest.raises(FourEyesViolation):
        user_task_claim(task_id=finance.pk, actor=approver, now=NOW)
    reminder = Job.objects.get(instance=instance, element_id="Timer_FinanceReminder")
    assert reminder.due_at == NOW + timedelta(days=2)

    from engine.services.jobs import job_fire

    job_fire(job_id=reminder.pk, now=reminder.due_at)
    follow_up = UserTask.objects.get(instance=instance, element_id="Task_FollowUp")
    assert follow_up.candidate_groups == ["managers"]
    assert UserTask.objects.get(pk=finance.pk).status == "open"  # non-interrupting
    user_task_claim(task_id=finance.pk, actor=approver2, now=reminder.due_at)
    user_task_complete(task_id=finance.pk, actor=approver2, now=reminder.due_at,
                       variables={"financeApproved": True})
    user_task_claim(task_id=follow_up.pk, actor=manager, now=reminder.due_at)
    user_task_complete(task_id=follow_up.pk, actor=manager, now=reminder.due_at)
    instance.refresh_from_db()
    assert instance.status == "completed"


def test_seed_demo_lists_the_second_approver_and_the_manager(db):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    for username, password in (("approver2", "demo-approver2"), ("manager", "demo-manager")):
        assert f"{username}" in out.getvalue() and password in out.getvalue()
    people = {u.username: set(u.groups.values_list("name", flat=True))
              for u in get_user_model().objects.filter(username__in=["approver2", "manager"])}
    assert people == {"approver2": {"approver", "finance"}, "manager": {"approver", "managers"}}


def test_the_demo_admin_may_edit_sla_policies_in_the_django_admin(db):
    _seeded()
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_staff
    for codename in ("tasks_portal.add_slapolicy", "tasks_portal.change_groupassignmentrule",
                     "engine.add_tasksubstitution"):
        assert admin.has_perm(codename), codename
