"""Notifications: in-app rows (with an unread count) and e-mail through Django's backend.

A task offered to you, assigned to you, at risk, breached or escalated gives you one
Notification row in the engine's transaction; the e-mail leaves only after commit
(EMAIL_BACKEND: the console by default). FLOWDESK_NOTIFY_EMAIL_KINDS (a list of kinds)
says which kinds also go by e-mail, all of them unless set; FLOWDESK_BASE_URL (e.g.
https://flowdesk.example.org) makes the link in the mail absolute.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from engine.models import TaskSubstitution, UserTask
from tasks_portal.models import Notification, NotificationKind

_SUBJECTS = {
    NotificationKind.OFFERED: "New task for you: {name}",
    NotificationKind.ASSIGNED: "Task assigned to you: {name}",
    NotificationKind.AT_RISK: "Task at risk: {name}",
    NotificationKind.BREACHED: "Task overdue: {name}",
    NotificationKind.ESCALATED: "Task escalated: {name}",
}


def _task_label(task: UserTask) -> str:
    name = task.name or task.element_id
    return f"{name} ({task.business_key})" if task.business_key else name


def group_member_ids(groups: Iterable[str]) -> list[int]:
    """Active members of the named groups."""
    names = [g for g in groups if g]
    if not names:
        return []
    return list(get_user_model()._default_manager.filter(
        groups__name__in=names, is_active=True).values_list("pk", flat=True).distinct())


def candidates(task: UserTask) -> dict[int, str]:
    """Active candidate users and members of candidate groups of the task: id -> e-mail."""
    if not task.candidate_groups and not task.candidate_users:
        return {}  # offered to nobody by name: no query to build
    user_model = get_user_model()
    query = Q(groups__name__in=list(task.candidate_groups))
    if task.candidate_users:
        query |= Q(**{f"{user_model.USERNAME_FIELD}__in": list(task.candidate_users)})
    return dict(user_model._default_manager.filter(query, is_active=True)
                .values_list("pk", "email").distinct())


def candidate_ids(task: UserTask) -> list[int]:
    return list(candidates(task))


def notify(*, user_ids: Iterable[int], kind: str, task: UserTask | None, message: str,
           now: datetime | None = None, skip: int | None = None,
           emails: Mapping[int, str] | None = None) -> list[Notification]:
    """One notification per user (in the caller's transaction) and, after commit, e-mail
    to those with an address (`emails` when the caller has them: id -> address). `skip`
    is the user who caused it (nobody is told of what they did themselves)."""
    at = now or timezone.now()
    ids = [uid for uid in dict.fromkeys(user_ids) if uid is not None and uid != skip]
    if not ids:
        return []
    rows = Notification.objects.bulk_create([
        Notification(user_id=uid, kind=kind, task=task, message=message[:500], created_at=at)
        for uid in ids
    ])
    email_kinds = getattr(settings, "FLOWDESK_NOTIFY_EMAIL_KINDS", None)
    if email_kinds is None or kind in email_kinds:
        if emails is None:
            emails = dict(get_user_model()._default_manager.filter(pk__in=ids)
                          .exclude(email="").values_list("pk", "email"))
        addresses = [emails[uid] for uid in ids if emails.get(uid)]
        if addresses:
            subject = _SUBJECTS.get(NotificationKind(kind), "{name}").format(
                name=_task_label(task) if task is not None else "flowdesk")
            body = message
            if task is not None:
                base = str(getattr(settings, "FLOWDESK_BASE_URL", "")).rstrip("/")
                body += f"\n\nOpen it: {base}/tasks/{task.pk}/"
            sender = getattr(settings, "DEFAULT_FROM_EMAIL", "flowdesk@localhost")
            mails = [(subject, body, sender, [address]) for address in addresses]
            transaction.on_commit(lambda: send_mass_mail(mails, fail_silently=True))
    return rows


def unread_count(user: Any) -> int:
    """How many notifications of `user` are unread."""
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user_id=user.pk, read_at__isnull=True).count()


def notification_list(*, user: Any, unread_only: bool = False,
                      limit: int = 50) -> QuerySet[Notification]:
    """The user's notifications, newest first (with their tasks)."""
    rows = Notification.objects.filter(user_id=user.pk).select_related("task")
    if unread_only:
        rows = rows.filter(read_at__isnull=True)
    return rows.order_by("-created_at", "-id")[:limit]


def notifications_mark_read(*, user: Any, ids: Iterable[int] | None = None,
                            now: datetime | None = None) -> int:
    """Mark the user's notifications `ids` (all when None) read; returns how many."""
    rows = Notification.objects.filter(user_id=user.pk, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.update(read_at=now or timezone.now())


# --- Receivers of the engine's task signals (connected in TasksPortalConfig.ready) ----


def on_task_created(sender: Any, task: UserTask, **_: Any) -> None:
    label = _task_label(task)
    if getattr(task, "_auto_assigned", None):
        return  # told by on_task_changed("assigned") already
    if task.assignee_id is not None:
        notify(user_ids=[task.assignee_id], kind=NotificationKind.ASSIGNED, task=task,
               message=f"{label} is assigned to you.", now=task.created_at)
        return
    if task.assignee_username:
        return  # assigned by name to someone with no account: nobody to tell
    people = candidates(task)
    if not people:
        return  # nobody to tell, and so no stand-in of anybody either
    if task.exclude_completers_of:
        # Four-eyes: who may not take it is not told it waits for them.
        barred = UserTask.objects.filter(
            instance_id=task.instance_id, element_id__in=list(task.exclude_completers_of),
            status="completed").values_list("completed_by_id", flat=True)
        for uid in list(barred):
            people.pop(uid, None)
    notify(user_ids=people, kind=NotificationKind.OFFERED, task=task, emails=people,
           message=f"{label} is waiting for you or your group.", now=task.created_at)
    _tell_substitutes(task, list(people), label)


def _tell_substitutes(task: UserTask, absent: list[int], label: str) -> None:
    """Who stands in now for someone the task is offered to hears of it as well."""
    if not absent:
        return
    stand_ins = (TaskSubstitution.objects.filter(
        user_id__in=absent, starts_at__lte=task.created_at, ends_at__gt=task.created_at)
        .exclude(substitute_id__in=absent).values_list("substitute_id", "user__username"))
    by_substitute: dict[int, list[str]] = {}
    for substitute, name in stand_ins:
        by_substitute.setdefault(substitute, []).append(name)
    for substitute, names in by_substitute.items():
        notify(user_ids=[substitute], kind=NotificationKind.OFFERED, task=task,
               now=task.created_at,
               message=f"{label} is waiting for {', '.join(sorted(names))}, "
                       "whom you stand in for.")


def on_task_changed(sender: Any, task: UserTask, change: str, actor: Any = None,
                    data: dict[str, Any] | None = None, **_: Any) -> None:
    label = _task_label(task)
    skip = actor.pk if actor is not None else None
    if change in ("assigned", "delegated", "resolved") and task.assignee_id is not None:
        what = {"assigned": "is assigned to you",
                "delegated": "was delegated to you",
                "resolved": "is back with you (resolved by the delegate)"}[change]
        notify(user_ids=[task.assignee_id], kind=NotificationKind.ASSIGNED, task=task,
               message=f"{label} {what}.", skip=skip)
    elif change == "escalated":
        group = (data or {}).get("group")
        notify(user_ids=group_member_ids([str(group)]) if group else [],
               kind=NotificationKind.ESCALATED, task=task,
               message=f"{label} was escalated to {group}: please take it.", skip=skip)
