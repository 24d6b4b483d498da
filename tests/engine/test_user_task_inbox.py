"""The inbox query: views, filters, list variables, sorting, and a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.errors import InvalidTaskAction, TaskNotPermitted
from engine.models import UserTask
from engine.selectors import InboxFilters, user_task_inbox
from engine.services.user_tasks import user_task_claim
from tests.engine._inbox import review, user
from tests.engine._instances import NOW

pytestmark = pytest.mark.django_db


def _ids(tasks) -> list[int]:
    return [t.pk for t in tasks]


@pytest.fixture
def three(db):
    """Three Review tasks: amounts 100 / 5000 / 900, priorities 10 / 90 / 50."""
    made = []
    for index, (amount, vendor, priority) in enumerate(
            [(100, "ACME", 10), (5000, "Globex", 90), (900, "ACME", 50)]):
        _instance, task = review(deployed=index > 0, amount=amount, vendor=vendor,
                                 priority=priority)
        made.append(task)
    return made


def test_list_variables_are_kept_on_the_task_for_the_inbox(three):
    assert [t.list_variables for t in three] == [
        {"amount": 100, "vendor": "ACME"}, {"amount": 5000, "vendor": "Globex"},
        {"amount": 900, "vendor": "ACME"}]
    # `submitter` and `priority` are process variables too, but not marked visible.
    assert "submitter" not in three[0].list_variables


def test_filter_by_list_variable_priority_process_task_and_text(three):
    ann = user("ann", "finance")

    def inbox(**filters):
        return _ids(user_task_inbox(user=ann, view="group", filters=InboxFilters(**filters),
                                    now=NOW, order="created"))

    one, two, three_ = (t.pk for t in three)
    assert inbox(variables={"vendor": "ACME"}) == [one, three_]
    assert inbox(variables={"vendor": "ACME", "amount": 900}) == [three_]
    assert inbox(variables={"amount": 1}) == []
    assert inbox(priority_min=50) == [two, three_]
    assert inbox(priority_min=20, priority_max=60) == [three_]
    assert inbox(process="inbox_review", task="Review") == [one, two, three_]
    assert inbox(process="other") == []
    assert inbox(text="review the") == [one, two, three_]
    assert inbox(text="nothing like it") == []


def test_filter_by_business_key_and_sla_state(db):
    ann = user("ann", "finance")
    from tests.engine._inbox import start

    instance = start("inbox_review", variables={"submitter": "sam", "priority": 1},
                     business_key="PO-7")
    from engine.services.user_tasks import user_task_complete

    user_task_complete(task_id=UserTask.objects.get(instance=instance).pk, actor=None, now=NOW)
    task = UserTask.objects.get(instance=instance, element_id="Review")
    assert task.business_key == "PO-7"
    found = user_task_inbox(user=ann, view="group", filters=InboxFilters(business_key="PO-7"),
                            now=NOW)
    assert _ids(found) == [task.pk]
    # Due 2025-03-05T17:00Z (the model); at risk from 80 % of the way there.
    at_risk = task.at_risk_at
    assert at_risk is not None and NOW < at_risk < task.due
    for now, state in ((NOW, "on_track"), (at_risk, "at_risk"), (task.due, "breached")):
        for sla in ("on_track", "at_risk", "breached", "none"):
            got = _ids(user_task_inbox(user=ann, view="group", filters=InboxFilters(sla=sla),
                                       now=now))
            assert got == ([task.pk] if sla == state else []), (now, sla)


def test_sorting_by_priority_due_and_created(three):
    ann = user("ann", "finance")
    one, two, three_ = three
    UserTask.objects.filter(pk=one.pk).update(due=NOW + timedelta(days=9))
    UserTask.objects.filter(pk=two.pk).update(due=None)
    UserTask.objects.filter(pk=three_.pk).update(due=NOW + timedelta(days=1),
                                                 created_at=NOW + timedelta(hours=1))

    def order(by):
        return _ids(user_task_inbox(user=ann, view="group", order=by, now=NOW))

    assert order("priority") == [two.pk, three_.pk, one.pk]
    assert order("-priority") == [one.pk, three_.pk, two.pk]
    assert order("due") == [three_.pk, one.pk, two.pk]  # no due date last
    assert order("-created") == [three_.pk, two.pk, one.pk]
    UserTask.objects.filter(pk=one.pk).update(at_risk_at=NOW + timedelta(hours=1))
    UserTask.objects.filter(pk=three_.pk).update(at_risk_at=NOW + timedelta(hours=5))
    UserTask.objects.filter(pk=two.pk).update(at_risk_at=None)
    assert order("sla") == [one.pk, three_.pk, two.pk]
    with pytest.raises(InvalidTaskAction):
        order("shoe size")


def test_views_mine_group_and_all(three):
    ann, bob = user("ann", "finance"), user("bob", "finance")
    admin = user("root", "process_admin")
    user_task_claim(task_id=three[0].pk, actor=ann, now=NOW)
    assert _ids(user_task_inbox(user=ann, view="mine", now=NOW)) == [three[0].pk]
    assert set(_ids(user_task_inbox(user=bob, view="group", now=NOW))) == {
        three[1].pk, three[2].pk}
    assert len(user_task_inbox(user=admin, view="all", now=NOW)) == 3
    with pytest.raises(TaskNotPermitted):
        user_task_inbox(user=bob, view="all", now=NOW)
    with pytest.raises(InvalidTaskAction):
        user_task_inbox(user=bob, view="everything", now=NOW)


def test_a_candidate_user_sees_the_task_in_the_group_view(db):
    carol = user("carol")
    _instance, task = review()
    assert _ids(user_task_inbox(user=carol, view="group", now=NOW)) == [task.pk]
    # A name with no account when the task was offered gets the offer when the account
    # is made (and a name that only contains it gets nothing).
    UserTask.objects.filter(pk=task.pk).update(candidate_users=["carol", "carl"])
    late, near = user("carl"), user("car")
    assert _ids(user_task_inbox(user=late, view="group", now=NOW)) == [task.pk]
    assert _ids(user_task_inbox(user=near, view="group", now=NOW)) == []


def test_an_assignee_named_before_the_account_existed_gets_the_task(db):
    from tests.engine._inbox import start

    instance = start("inbox_review", variables={"submitter": "newbie", "priority": 1})
    submit = UserTask.objects.get(instance=instance, element_id="Submit")
    assert submit.assignee is None and submit.assignee_username == "newbie"
    newbie = user("newbie")
    assert _ids(user_task_inbox(user=newbie, view="mine", now=NOW)) == [submit.pk]
    from engine.services.user_tasks import user_task_complete

    user_task_complete(task_id=submit.pk, actor=newbie, now=NOW)


def test_the_inbox_is_one_query_whatever_the_number_of_rows(three):
    ann = user("ann", "finance")

    def columns():
        with CaptureQueriesContext(connection) as queries:
            rows = list(user_task_inbox(user=ann, view="group", now=NOW))
            shown = [(t.name, t.instance.definition.name, t.instance.business_key,
                      t.assignee.username if t.assignee else None, t.due, t.priority,
                      t.list_variables) for t in rows]
        return len(queries), shown

    first_count, shown = columns()
    assert len(shown) == 3
    review(deployed=True)
    review(deployed=True)
    again_count, shown = columns()
    assert len(shown) == 5
    # One query for the permission ids at most (cached), one for the rows.
    assert again_count == first_count <= 2


def test_filters_from_plain_data_are_checked(db):
    assert InboxFilters.from_dict({"priority_min": "5", "sla": "at_risk"}) == InboxFilters(
        priority_min=5, sla="at_risk")
    for bad in ({"priority_min": "high"}, {"sla": "late"}, {"colour": "red"},
                {"variables": ["amount"]}):
        with pytest.raises(InvalidTaskAction):
            InboxFilters.from_dict(bad)
    data = {"process": "p", "variables": {"amount": 5}, "text": "x"}
    assert InboxFilters.from_dict(data).to_dict() == data


def test_the_benchmark_data_at_small_scale_gives_each_user_their_groups_tasks(db):
    """benchmarks/inbox.py's seeding, 600 tasks over 20 groups: every user's group view is
    exactly the free tasks of their three groups, in two queries (page and count)."""
    import random

    from django.contrib.auth.models import User

    from benchmarks.inbox import NOW as BENCH_NOW
    from benchmarks.inbox import _seed

    _seed(600, 20, 20, random.Random(1))
    for person in User.objects.filter(username__in=["u0000", "u0007", "u0019"]):
        groups = set(person.groups.values_list("name", flat=True))
        expected = {t.pk for t in UserTask.objects.filter(assignee__isnull=True)
                    if t.candidate_groups[0] in groups}
        with CaptureQueriesContext(connection) as queries:
            inbox = user_task_inbox(user=person, view="group", now=BENCH_NOW)
            page, total = list(inbox[:50]), inbox.count()
        assert total == len(expected) > 50 and {t.pk for t in page} <= expected
        assert len(queries) == 2
        assert [t.due for t in page] == sorted(t.due for t in page)
