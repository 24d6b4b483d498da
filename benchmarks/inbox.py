"""One user's inbox query at 100,000 open tasks over 1,000 groups, on PostgreSQL.

    .venv/bin/python -m benchmarks.inbox [--tasks 100000] [--groups 1000] [--users 1000]
        [--runs 300] [--database-url postgres://postgres@127.0.0.1:5432/flowdesk_h2_inbox]
        [--explain]

Creates the database named in the URL afresh (DROP DATABASE IF EXISTS, CREATE, migrate:
it must be a dedicated benchmark database on a local server), then writes, with the ORM
(bulk inserts, so the rows are exactly what the services would write): one deployed
process, `--groups` groups, `--users` users each in 3 groups, `--tasks` open tasks, one per
instance, each offered to one group (guardian view + claim rows, as the portal writes them
when a task is created), a tenth of them claimed by a user (view/claim/complete rows), with
due dates, at-risk instants, priorities and two list variables spread over them.

Then, for `--runs` random users each, it times what the inbox page asks for: the first
page (50 rows, with instance, definition and assignee joined, every column read) and the
total count, for each view and a few filters, and prints p50 / p95 / max in milliseconds.
`--explain` prints PostgreSQL's plan of the group view once.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks._pg import recreate_database, setup_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/flowdesk_h2_inbox"
PAGE = 50
BATCH = 5000
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
VENDORS = ("ACME", "Globex", "Initech", "Umbrella", "Hooli")

MODEL = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
             id="Defs" targetNamespace="http://flowdesk.example/bench">
  <process id="invoice" name="Invoice approval" isExecutable="true">
    <extensionElements><camunda:properties>
      <camunda:property name="listVariables" value="amount, vendor"/>
    </camunda:properties></extensionElements>
    <startEvent id="Start"/>
    <sequenceFlow id="f1" sourceRef="Start" targetRef="Approve"/>
    <userTask id="Approve" name="Approve invoice" camunda:candidateGroups="${group}"/>
    <sequenceFlow id="f2" sourceRef="Approve" targetRef="End"/>
    <endEvent id="End"/>
  </process>
</definitions>
"""


def _seed(tasks: int, groups: int, users: int, rng: random.Random) -> None:
    from django.contrib.auth.models import Group, User
    from django.db import connection, transaction

    from engine.models import (
        ProcessInstance,
        TaskGroupPermission,
        TaskSubstitution,
        TaskUserPermission,
        UserTask,
        UserTaskCandidateGroup,
    )
    from engine.services.deployments import deployment_create
    from engine.services.user_tasks import ASSIGNEE_PERMS, OFFER_PERMS, permission_ids

    started = time.perf_counter()
    definition = deployment_create(files=[("invoice.bpmn", MODEL)], actor=None
                                   ).process_definitions.get()
    perms = permission_ids()
    with transaction.atomic():
        Group.objects.bulk_create([Group(name=f"g{i:04d}") for i in range(groups)])
        group_ids = list(Group.objects.order_by("name").values_list("pk", flat=True))
        unusable = "!"  # an unusable password hash, as set_unusable_password writes
        User.objects.bulk_create([User(username=f"u{i:04d}", password=unusable)
                                  for i in range(users)])
        # Only ours: guardian's AnonymousUser exists too.
        user_ids = list(User.objects.filter(username__startswith="u").order_by("username")
                        .values_list("pk", flat=True))
        membership = User.groups.through
        membership.objects.bulk_create([
            membership(user_id=uid, group_id=group_ids[(i + k) % groups])
            for i, uid in enumerate(user_ids) for k in range(3)], batch_size=BATCH)
        admin = User.objects.create(username="admin", password=unusable, is_superuser=True)
        TaskSubstitution.objects.create(user_id=user_ids[0], substitute_id=user_ids[1],
                                        starts_at=NOW - timedelta(days=1),
                                        ends_at=NOW + timedelta(days=7), created_at=NOW)
    del admin
    for start in range(0, tasks, BATCH):
        count = min(BATCH, tasks - start)
        with transaction.atomic():
            instances = ProcessInstance.objects.bulk_create([
                ProcessInstance(definition=definition, business_key=f"INV-{start + i:06d}",
                                status="running", state={}, revision=1,
                                started_at=NOW - timedelta(minutes=start + i))
                for i in range(count)])
            rows = []
            for i, instance in enumerate(instances):
                n = start + i
                created = NOW - timedelta(minutes=rng.randrange(60 * 24 * 10))
                due = created + timedelta(hours=rng.randrange(1, 24 * 14))
                claimed = n % 10 == 0
                owner = user_ids[(n // 10) % users] if claimed else None
                owner_name = f"u{(n // 10) % users:04d}" if claimed else None
                rows.append(UserTask(
                    instance=instance, task_id=1, element_id="Approve",
                    name="Approve invoice", process_key="invoice",
                    business_key=instance.business_key,
                    candidate_groups=[f"g{n % groups:04d}"],
                    assignee_id=owner, assignee_username=owner_name,
                    status="claimed" if claimed else "open",
                    claimed_at=created if claimed else None,
                    due=due, at_risk_at=created + (due - created) * 0.8,
                    priority=rng.choice((10, 30, 50, 50, 50, 70, 90)), created_at=created,
                    list_variables={"amount": rng.randrange(10, 50_000),
                                    "vendor": rng.choice(VENDORS)}))
            made = UserTask.objects.bulk_create(rows)
            UserTaskCandidateGroup.objects.bulk_create([
                UserTaskCandidateGroup(task=t, group_name=t.candidate_groups[0]) for t in made])
            TaskGroupPermission.objects.bulk_create([
                TaskGroupPermission(group_id=group_ids[(start + i) % groups],
                                    permission_id=perms[c], content_object=t)
                for i, t in enumerate(made) for c in OFFER_PERMS], batch_size=BATCH)
            TaskUserPermission.objects.bulk_create([
                TaskUserPermission(user_id=t.assignee_id, permission_id=perms[c],
                                   content_object=t)
                for t in made if t.assignee_id for c in ASSIGNEE_PERMS], batch_size=BATCH)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # what autovacuum does soon after a bulk load
    print(f"seeded {tasks:,} open tasks over {groups:,} groups and {users:,} users "
          f"in {time.perf_counter() - started:.0f} s")


def _page(qs: Any) -> int:
    rows = list(qs[:PAGE])
    shown = [  # every column the inbox shows, so a lazy join would show up here
        (t.name, t.instance.definition.name, t.business_key, t.created_at, t.due,
         t.priority, t.assignee.username if t.assignee else None, t.list_variables)
        for t in rows]
    assert len(shown) == len(rows)
    return int(qs.count())


def _page_only(qs: Any) -> int:
    return len(list(qs[:PAGE]))


def _measure(label: str, make: Callable[[Any], Any], users: list[Any], runs: int,
             rng: random.Random, fetch: Callable[[Any], int] = _page,
             ) -> tuple[str, float, float, float, int]:
    times, sizes = [], []
    fetch(make(users[0]))  # warm the connection and the plan
    for _ in range(runs):
        user = rng.choice(users)
        begin = time.perf_counter()
        sizes.append(fetch(make(user)))
        times.append((time.perf_counter() - begin) * 1000)
    times.sort()
    p95 = times[max(0, int(len(times) * 0.95) - 1)]
    return label, statistics.median(times), p95, times[-1], int(statistics.median(sizes))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--no-count", action="store_true",
                        help="time the page of 50 alone, without the total count")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--reuse", action="store_true",
                        help="measure the data a previous run left (no drop, no seeding)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    if not args.reuse:
        recreate_database(args.database_url)
    setup_django(args.database_url, name="inbox")
    if not args.reuse:
        _seed(args.tasks, args.groups, args.users, rng)

    from django.contrib.auth.models import User

    from engine.selectors import InboxFilters, user_task_inbox

    people = list(User.objects.filter(username__startswith="u").order_by("username"))
    admin = User.objects.get(username="admin")
    substitute = [people[1]]

    def inbox(view: str, order: str = "due", **filters: Any) -> Callable[[Any], Any]:
        return lambda user: user_task_inbox(user=user, view=view, order=order, now=NOW,
                                            filters=InboxFilters(**filters) if filters else None)

    cases: list[tuple[str, Callable[[Any], Any], list[Any]]] = [
        ("mine, by due", inbox("mine"), people),
        ("group, by due", inbox("group"), people),
        ("group, by priority", inbox("group", order="priority"), people),
        ("group, newest first", inbox("group", order="-created"), people),
        ("group, SLA at risk", inbox("group", sla="at_risk"), people),
        ("group, SLA breached", inbox("group", sla="breached"), people),
        ("group, vendor = ACME", inbox("group", variables={"vendor": "ACME"}), people),
        ("group, text 'INV-0001'", inbox("group", text="INV-0001"), people),
        ("group, priority >= 70", inbox("group", priority_min=70), people),
        ("substituting", inbox("substituting"), substitute),
        ("all (admin), by due", inbox("all"), [admin]),
        ("all (admin), breached", inbox("all", sla="breached"), [admin]),
    ]
    if args.explain:
        from django.db import connection

        qs = user_task_inbox(user=people[0], view="group", now=NOW)[:PAGE]
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            print("\n".join(row[0] for row in cursor.fetchall()))
    title = "inbox query (page of 50)" if args.no_count else "inbox query (page of 50 + count)"
    print(f"\n{title:<36} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'max ms':>8} {'rows':>7}")
    worst = 0.0
    for label, make, users in cases:
        name, p50, p95, top, size = _measure(label, make, users, args.runs, rng,
                                             _page_only if args.no_count else _page)
        worst = max(worst, p95)
        print(f"{name:<36} {p50:>8.2f} {p95:>8.2f} {top:>8.2f} {size:>7}")
    print(f"\nworst p95: {worst:.1f} ms (target < 100 ms)")


if __name__ == "__main__":
    main()
