"""The rules of who gets a task: vendors' assignment, lanes, four-eyes, admins, automatic
assignment, delegation, comments, bulk actions, and the signals the portal hears."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from engine.errors import (
    BulkFormsDiffer,
    FourEyesViolation,
    InvalidTaskAction,
    TaskDelegationPending,
    TaskNotDelegated,
    TaskNotPermitted,
)
from engine.models import AuditEvent, AuditKind, TaskComment, UserTask
from engine.selectors import user_task_inbox
from engine.services.instances import process_instance_cancel
from engine.services.user_tasks import (
    may,
    user_task_assign,
    user_task_bulk,
    user_task_claim,
    user_task_comment,
    user_task_complete,
    user_task_delegate,
    user_task_resolve,
    user_task_unclaim,
)
from engine.signals import user_tasks_cancelled
from tasks_portal.models import GroupAssignmentRule
from tests.engine._inbox import review, start, user
from tests.engine._instances import NOW, open_task


def _task(instance, element_id: str) -> UserTask:
    return UserTask.objects.get(instance_id=instance.pk, element_id=element_id)

pytestmark = pytest.mark.django_db


# --- Who a model offers a task to ------------------------------------------------------


def test_expressions_of_every_vendor_offer_the_task_to_the_named_people(db):
    boss, kermit, gonzo = user("boss"), user("kermit"), user("gonzo")
    rita = user("rita")
    ops = user("olga", "ops")
    manager = user("mona", "management")
    instance = start("inbox_vendors", variables={
        "manager": "boss", "teams": ["ops", "qa"], "reviewer": "rita", "team": "ops"})
    zeebe, juel = open_task(instance.pk, "Zeebe"), open_task(instance.pk, "Juel")
    owner, performer = open_task(instance.pk, "Owner"), open_task(instance.pk, "Performer")
    assert (zeebe.assignee, zeebe.candidate_groups) == (boss, ["ops", "qa"])
    assert (juel.candidate_users, juel.candidate_groups) == (["rita", "carol"], ["ops"])
    assert (owner.candidate_users, owner.candidate_groups) == (["kermit"], ["management"])
    assert performer.assignee == gonzo
    assert zeebe.exclude_completers_of == ["Juel"]  # from zeebe:properties
    assert list(user_task_inbox(user=boss, view="mine", now=NOW)) == [zeebe]
    assert list(user_task_inbox(user=gonzo, view="mine", now=NOW)) == [performer]
    # Zeebe's task is assigned (to boss): ops may see it but not claim it from the pool.
    assert list(user_task_inbox(user=ops, view="group", now=NOW)) == [juel]
    from engine.selectors import user_task_visible

    assert set(user_task_visible(user=ops, now=NOW)) == {zeebe, juel}
    assert list(user_task_inbox(user=rita, view="group", now=NOW)) == [juel]
    assert list(user_task_inbox(user=kermit, view="group", now=NOW)) == [owner]
    assert list(user_task_inbox(user=manager, view="group", now=NOW)) == [owner]


def test_a_lane_named_like_a_group_offers_the_tasks_that_name_no_one(db):
    Group.objects.create(name="finance")
    fay = user("fay", "finance")
    instance = start("inbox_lanes")
    pay, check = open_task(instance.pk, "Pay"), open_task(instance.pk, "Check")
    sign = open_task(instance.pk, "Sign")
    # "Finance" matches the group "finance"; "Legal" names no group; Sign names its own.
    assert pay.candidate_groups == ["finance"]
    assert check.candidate_groups == [] and sign.candidate_groups == ["managers"]
    assert list(user_task_inbox(user=fay, view="group", now=NOW)) == [pay]
    user_task_claim(task_id=pay.pk, actor=fay, now=NOW)


# --- Four-eyes -------------------------------------------------------------------------


def test_who_completed_the_excluded_task_may_neither_claim_nor_complete_this_one(db):
    sam, fred = user("sam", "finance"), user("fred", "finance")
    _instance, task = review(submitted_by=sam)
    assert not may(sam, task, "claim", NOW)
    with pytest.raises(FourEyesViolation) as raised:
        user_task_claim(task_id=task.pk, actor=sam, now=NOW)
    assert raised.value.element_id == "Submit" and raised.value.http_status == 403
    # An admin cannot hand it to him either, and he cannot complete it once handed over
    # some other way (e.g. by the engine before the rule existed).
    admin = user("root", "process_admin")
    with pytest.raises(FourEyesViolation):
        user_task_assign(task_id=task.pk, actor=admin, assignee=sam, now=NOW)
    user_task_assign(task_id=task.pk, actor=None, assignee=fred, now=NOW)
    UserTask.objects.filter(pk=task.pk).update(assignee=sam)
    from engine.services.user_tasks import _grant_users

    _grant_users(task, [sam.pk], ("view_usertask", "claim_usertask", "complete_usertask"))
    with pytest.raises(FourEyesViolation):
        user_task_complete(task_id=task.pk, actor=sam, now=NOW)
    task.refresh_from_db()
    assert task.status == "claimed"


def test_four_eyes_only_excludes_the_completer_of_the_named_task(db):
    sam, fred = user("sam", "finance"), user("fred", "finance")
    _instance, task = review(submitted_by=sam)
    user_task_claim(task_id=task.pk, actor=fred, now=NOW)
    user_task_complete(task_id=task.pk, actor=fred, now=NOW)
    assert UserTask.objects.get(pk=task.pk).completed_by == fred


# --- Admins reassign -------------------------------------------------------------------


def test_an_admin_reassigns_and_nobody_else_may(db):
    ann, bob = user("ann", "finance"), user("bob", "finance")
    admin = user("root", "process_admin")
    outsider = user("eve")
    instance, task = review()
    user_task_claim(task_id=task.pk, actor=ann, now=NOW)
    with pytest.raises(TaskNotPermitted):
        user_task_assign(task_id=task.pk, actor=bob, assignee=bob, now=NOW)
    user_task_assign(task_id=task.pk, actor=admin, assignee="eve", now=NOW)
    task.refresh_from_db()
    assert task.assignee == outsider
    # ann lost the right to complete it; eve gained it (with view), though not a candidate.
    assert not may(ann, task, "complete", NOW) and may(outsider, task, "complete", NOW)
    event = AuditEvent.objects.get(instance_id=instance.pk, kind=AuditKind.TASK_ASSIGNED)
    assert (event.actor, event.data["from"], event.data["to"]) == ("root", "ann", "eve")
    user_task_assign(task_id=task.pk, actor=admin, assignee=None, now=NOW)
    task.refresh_from_db()
    assert (task.status, task.assignee) == ("open", None)
    with pytest.raises(InvalidTaskAction):
        user_task_assign(task_id=task.pk, actor=admin, assignee="nobody-of-that-name",
                         now=NOW)


# --- Automatic assignment --------------------------------------------------------------


def test_round_robin_hands_tasks_to_each_candidate_in_turn(db):
    amy, ben, cid = user("amy", "pool"), user("ben", "pool"), user("cid", "pool")
    user("old", "pool", is_active=False)
    start("inbox_auto", variables={"mode": "rr"})
    got = [_task(start("inbox_auto", variables={"mode": "rr"}, deployed=True),
                 "RoundRobin").assignee for _ in range(4)]
    first = UserTask.objects.filter(element_id="RoundRobin").order_by("id").first()
    assert first is not None
    assert [first.assignee, *got] == [amy, ben, cid, amy, ben]
    assert AuditEvent.objects.filter(kind=AuditKind.TASK_ASSIGNED, data__auto="round-robin").count() == 5


def test_least_loaded_picks_whoever_has_fewest_open_tasks(db):
    amy, ben = user("amy", "pool"), user("ben", "pool")
    first = _task(start("inbox_auto", variables={"mode": "ll"}), "LeastLoaded")
    second = _task(start("inbox_auto", variables={"mode": "ll"}, deployed=True),
                   "LeastLoaded")
    assert {first.assignee, second.assignee} == {amy, ben}
    user_task_complete(task_id=first.pk, actor=first.assignee, now=NOW)
    third = _task(start("inbox_auto", variables={"mode": "ll"}, deployed=True),
                  "LeastLoaded")
    assert third.assignee == first.assignee


def test_a_group_rule_assigns_tasks_of_models_that_say_nothing(db):
    amy, ben = user("amy", "pool"), user("ben", "pool")
    GroupAssignmentRule.objects.create(group=Group.objects.get(name="pool"),
                                       strategy="round-robin")
    one = _task(start("inbox_plain"), "Work")
    two = _task(start("inbox_plain", deployed=True), "Work")
    assert [one.assignee, two.assignee] == [amy, ben]


def test_without_a_rule_the_task_stays_in_the_pool(db):
    user("amy", "pool")
    task = open_task(start("inbox_plain").pk, "Work")
    assert task.assignee is None and task.status == "open"


# --- Delegation ------------------------------------------------------------------------


def test_a_delegate_works_the_task_and_resolves_it_back_to_the_owner(db):
    ann, dave = user("ann", "finance"), user("dave")
    instance, task = review()
    user_task_claim(task_id=task.pk, actor=ann, now=NOW)
    user_task_delegate(task_id=task.pk, actor=ann, to_user="dave", now=NOW)
    task.refresh_from_db()
    assert (task.owner, task.assignee, task.delegation_state) == (ann, dave, "pending")
    assert list(user_task_inbox(user=dave, view="mine", now=NOW)) == [task]
    with pytest.raises(TaskDelegationPending):
        user_task_complete(task_id=task.pk, actor=dave, now=NOW)
    with pytest.raises(TaskNotPermitted):
        user_task_resolve(task_id=task.pk, actor=ann, now=NOW)
    user_task_resolve(task_id=task.pk, actor=dave, variables={"checked": True}, now=NOW)
    task.refresh_from_db()
    assert (task.assignee, task.delegation_state) == (ann, "resolved")
    with pytest.raises(TaskNotDelegated):
        user_task_resolve(task_id=task.pk, actor=ann, now=NOW)
    assert not may(dave, task, "complete", NOW)
    user_task_unclaim(task_id=task.pk, actor=ann, now=NOW)
    task.refresh_from_db()
    assert not may(dave, task, "claim", NOW)  # a delegate is no candidate
    user_task_claim(task_id=task.pk, actor=ann, now=NOW)
    user_task_complete(task_id=task.pk, actor=ann, variables={"approved": True}, now=NOW)
    instance.refresh_from_db()
    assert instance.status == "completed"
    assert instance.state["s"][0]["v"]["checked"] is True
    kinds = list(AuditEvent.objects.filter(instance_id=instance.pk, kind__in=[
        AuditKind.TASK_CLAIMED, AuditKind.TASK_DELEGATED, AuditKind.TASK_RESOLVED,
    ]).values_list("kind", "actor"))
    assert kinds == [(AuditKind.TASK_CLAIMED, "ann"), (AuditKind.TASK_DELEGATED, "ann"),
                     (AuditKind.TASK_RESOLVED, "dave"), (AuditKind.TASK_CLAIMED, "ann")]


def test_only_the_assignee_may_delegate(db):
    ann, bob = user("ann", "finance"), user("bob", "finance")
    _instance, task = review()
    with pytest.raises(TaskNotPermitted):
        user_task_delegate(task_id=task.pk, actor=ann, to_user=bob, now=NOW)
    user_task_claim(task_id=task.pk, actor=ann, now=NOW)
    with pytest.raises(TaskNotPermitted):
        user_task_delegate(task_id=task.pk, actor=bob, to_user=bob, now=NOW)
    with pytest.raises(InvalidTaskAction):
        user_task_delegate(task_id=task.pk, actor=ann, to_user="ghost", now=NOW)


# --- Comments --------------------------------------------------------------------------


def test_who_may_see_a_task_may_comment_and_the_comment_is_audited(db):
    ann, eve = user("ann", "finance"), user("eve")
    instance, task = review()
    comment = user_task_comment(task_id=task.pk, actor=ann, text="  Invoice attached? ",
                                now=NOW)
    assert (comment.author, comment.text) == (ann, "Invoice attached?")
    with pytest.raises(TaskNotPermitted):
        user_task_comment(task_id=task.pk, actor=eve, text="let me in", now=NOW)
    with pytest.raises(InvalidTaskAction):
        user_task_comment(task_id=task.pk, actor=ann, text="   ", now=NOW)
    assert TaskComment.objects.count() == 1
    event = AuditEvent.objects.get(instance_id=instance.pk, kind=AuditKind.TASK_COMMENTED)
    assert (event.actor, event.data["text"]) == ("ann", "Invoice attached?")


# --- Bulk actions ----------------------------------------------------------------------


def test_bulk_claim_takes_what_it_can_and_says_why_not_for_the_rest(db):
    ann, bob = user("ann", "finance"), user("bob", "finance")
    _i1, one = review()
    _i2, two = review(deployed=True)
    _i3, three = review(deployed=True)
    user_task_claim(task_id=two.pk, actor=bob, now=NOW)
    result = user_task_bulk(task_ids=[one.pk, two.pk, three.pk, 999999], actor=ann,
                            action="claim", now=NOW)
    assert result.done == (one.pk, three.pk)
    assert result.failed[two.pk]["code"] == "task.already-claimed"
    assert result.failed[two.pk]["by"] == "bob"
    assert result.failed[999999]["code"] == "task.not-found"
    done = user_task_bulk(task_ids=[one.pk, three.pk], actor=ann, action="complete",
                          variables={"approved": True}, now=NOW)
    assert done.ok and set(UserTask.objects.filter(pk__in=[one.pk, three.pk])
                           .values_list("status", flat=True)) == {"completed"}


def test_bulk_complete_refuses_tasks_whose_forms_differ(db):
    ann = user("ann", "finance", "pool")
    _instance, task = review()
    other = open_task(start("inbox_plain").pk, "Work")
    for t in (task, other):
        user_task_claim(task_id=t.pk, actor=ann, now=NOW)
    with pytest.raises(BulkFormsDiffer):
        user_task_bulk(task_ids=[task.pk, other.pk], actor=ann, action="complete",
                       variables={"approved": True}, now=NOW)
    assert set(UserTask.objects.filter(pk__in=[task.pk, other.pk])
               .values_list("status", flat=True)) == {"claimed"}
    with pytest.raises(InvalidTaskAction):
        user_task_bulk(task_ids=[task.pk], actor=ann, action="explode")


def test_bulk_unclaim_and_admin_reassign(db):
    ann, bob = user("ann", "finance"), user("bob", "finance")
    admin = user("root", "process_admin")
    _i1, one = review()
    _i2, two = review(deployed=True)
    assert user_task_bulk(task_ids=[one.pk, two.pk], actor=ann, action="claim").ok
    assert user_task_bulk(task_ids=[one.pk, two.pk], actor=ann, action="unclaim").ok
    refused = user_task_bulk(task_ids=[one.pk], actor=ann, action="assign", assignee=bob)
    assert refused.failed[one.pk]["code"] == "task.not-permitted"
    assert user_task_bulk(task_ids=[one.pk, two.pk], actor=admin, action="assign",
                          assignee=bob).ok
    assert list(user_task_inbox(user=bob, view="mine", now=NOW).values_list(
        "pk", flat=True)) == [one.pk, two.pk]


# --- Signals and the end of tasks ------------------------------------------------------


def test_cancelling_an_instance_tells_the_portal_which_tasks_ended(db):
    heard: list[tuple[int, list[int]]] = []

    def receiver(sender, instance_id, task_pks, **_):
        heard.append((instance_id, list(task_pks)))

    user_tasks_cancelled.connect(receiver, sender=UserTask)
    try:
        instance, task = review()
        process_instance_cancel(instance_id=instance.pk, now=NOW)
    finally:
        user_tasks_cancelled.disconnect(receiver, sender=UserTask)
    assert heard == [(instance.pk, [task.pk])]
    task.refresh_from_db()
    assert task.status == "cancelled"


def test_an_unclaimed_task_cannot_be_unclaimed_by_a_stranger_and_ended_tasks_refuse(db):
    ann, eve = user("ann", "finance"), user("eve")
    _instance, task = review()
    user_task_claim(task_id=task.pk, actor=ann, now=NOW)
    with pytest.raises(TaskNotPermitted):
        user_task_unclaim(task_id=task.pk, actor=eve, now=NOW)
    user_task_complete(task_id=task.pk, actor=ann, now=NOW)
    from engine.errors import TaskNotOpen

    for action in (user_task_claim, user_task_unclaim):
        with pytest.raises(TaskNotOpen):
            action(task_id=task.pk, actor=ann, now=NOW)
