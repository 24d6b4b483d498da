"""Claims raced from real threads (PostgreSQL row locks): exactly one winner."""

from __future__ import annotations

import pytest

from engine import audit
from engine.errors import TaskAlreadyClaimed
from engine.models import AuditEvent, AuditKind, UserTask, instance_chain
from engine.services.user_tasks import user_task_bulk, user_task_claim
from tests.concurrency import run_together
from tests.engine._inbox import review, user
from tests.engine._instances import NOW
from tests.markers import needs_postgresql_row_locks

pytestmark = [pytest.mark.django_db(transaction=True), needs_postgresql_row_locks]

ROUNDS = 5


def test_two_approvers_claiming_one_task_at_once_one_wins_the_other_is_told_who():
    people = [user(name, "finance") for name in ("ann", "bob", "cid")]
    for round_ in range(ROUNDS):
        instance, task = review(deployed=round_ > 0)
        results, failures = run_together([
            lambda u=u, t=task: user_task_claim(task_id=t.pk, actor=u, now=NOW)
            for u in people
        ])
        assert len(results) == 1, failures
        assert len(failures) == 2 and all(isinstance(f, TaskAlreadyClaimed) for f in failures)
        winner = UserTask.objects.get(pk=task.pk).assignee
        assert winner is not None and {f.by for f in failures} == {winner.username}
        claims = AuditEvent.objects.filter(instance_id=instance.pk, kind=AuditKind.TASK_CLAIMED)
        assert list(claims.values_list("actor", flat=True)) == [winner.username]
        assert audit.verify_chain(instance_chain(instance.pk)) == []


def test_bulk_claims_racing_over_the_same_tasks_split_them_without_double_claims():
    ann, bob = user("ann", "finance"), user("bob", "finance")
    tasks = [review(deployed=i > 0)[1] for i in range(6)]
    ids = [t.pk for t in tasks]
    results, failures = run_together([
        lambda: user_task_bulk(task_ids=ids, actor=ann, action="claim", now=NOW),
        lambda: user_task_bulk(task_ids=list(reversed(ids)), actor=bob, action="claim", now=NOW),
    ])
    assert failures == []
    done = [set(r.done) for r in results]  # type: ignore[attr-defined]
    assert done[0].isdisjoint(done[1]) and done[0] | done[1] == set(ids)
    holders = dict(UserTask.objects.filter(pk__in=ids).values_list("pk", "assignee__username"))
    for result in results:
        for task_id, error in result.failed.items():  # type: ignore[attr-defined]
            assert error["code"] == "task.already-claimed" and error["by"] == holders[task_id]
