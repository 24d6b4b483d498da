"""User task writes: claim, unclaim, assign, delegate, resolve, comment, complete, escalate.

Every service locks the instance, then the task (engine.locks order), checks what the
actor may do (object permissions of django-guardian on the task, substitution, the
four-eyes rule), changes the row, writes the task's object permissions, appends an audit
event with the actor to the instance's chain and sends `engine.signals.user_task_changed`,
all in one transaction. `actor=None` is the engine itself (bpmn_run, timers, SLA jobs):
nothing is checked for it.

Permissions on a task (codenames of engine.UserTask):
- view_usertask:     see it (candidates, assignee, owner, escalation group)
- claim_usertask:    take it (candidate users and groups, the model's assignee)
- complete_usertask: finish it (only ever held by the current assignee)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Count, F, Max, Q
from django.db.models.signals import post_migrate
from django.utils import timezone

from engine import locks, runtime
from engine import rows as db_rows
from engine.audit import audit_append
from engine.errors import (
    BulkFormsDiffer,
    EngineError,
    FourEyesViolation,
    InstanceSuspended,
    InvalidTaskAction,
    TaskAlreadyClaimed,
    TaskDelegationPending,
    TaskNotDelegated,
    TaskNotFound,
    TaskNotOpen,
    TaskNotPermitted,
)
from engine.models import (
    AuditKind,
    ProcessDefinition,
    ProcessInstance,
    SavedInboxView,
    TaskComment,
    TaskGroupPermission,
    TaskSubstitution,
    TaskUserPermission,
    UserTask,
    UserTaskCandidateGroup,
    instance_chain,
)
from engine.services._shell import json_variables, run_trigger
from engine.signals import user_task_changed
from engine.status import USER_TASK_ACTIVE, UserTaskStatus, user_task_transition

# A user of django.contrib.auth (groups, is_active, is_superuser); callers pass
# request.user, so Any rather than a union mypy cannot narrow for them.
UserLike = Any

__all__ = [
    "BulkResult",
    "InstanceSuspended",
    "TaskNotFound",
    "TaskNotOpen",
    "TaskTemplate",
    "grant_offers_to_new_user",
    "grant_task_offer",
    "saved_inbox_view_delete",
    "saved_inbox_view_save",
    "task_substitution_create",
    "task_substitution_end",
    "task_template",
    "user_task_assign",
    "user_task_bulk",
    "user_task_claim",
    "user_task_comment",
    "user_task_complete",
    "user_task_delegate",
    "user_task_escalate",
    "user_task_resolve",
    "user_task_unclaim",
]

VIEW, CLAIM, COMPLETE = "view_usertask", "claim_usertask", "complete_usertask"
OFFER_PERMS = (VIEW, CLAIM)
ASSIGNEE_PERMS = (VIEW, CLAIM, COMPLETE)
# The role group of process admins. tasks_portal.roles.PROCESS_ADMIN names the same group;
# the engine may not import the portal.
PROCESS_ADMIN_GROUP = "process_admin"
DELEGATION_PENDING, DELEGATION_RESOLVED = "pending", "resolved"
MAX_COMMENT = 10_000
AUTO_ASSIGN_STRATEGIES = ("round-robin", "least-loaded")


# --- What a model says about a task beyond the runtime's CreateUserTask --------------


@dataclass(frozen=True, slots=True)
class TaskTemplate:
    """Per user task element: its lanes (innermost first) and extension properties read.

    Properties (camunda:properties / zeebe:properties / spiff properties on the task;
    `listVariables` may also sit on the process):
      excludeCompletersOf = "Submit, Check"   four-eyes: completers of these may not take it
      listVariables       = "amount, vendor"  variables shown and filterable in the inbox
      autoAssign          = "round-robin" | "least-loaded"
    """

    lane_names: tuple[str, ...] = ()
    list_variables: tuple[str, ...] = ()
    exclude_completers_of: tuple[str, ...] = ()
    auto_assign: str | None = None


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.strip() for p in (text or "").split(",") if p.strip()))


def _template_of(definition: ProcessDefinition, element_id: str) -> TaskTemplate:
    from engine.definitions import compiled_process

    compiled = compiled_process(definition)
    node = compiled.nodes.get(element_id)
    process = compiled.definitions.process(compiled.process_id)
    if node is None or process is None:
        return TaskTemplate()
    props: Mapping[str, str] = node.model.ext.properties
    lanes: list[str] = []
    for top in process.lanes:
        for lane in top.walk():
            if element_id in lane.node_ids and lane.name and lane.name.strip():
                lanes.append(lane.name.strip())
    # walk() is outermost first; the innermost lane is the most specific offer.
    lanes.reverse()
    strategy = (props.get("autoAssign") or "").strip().lower() or None
    return TaskTemplate(
        lane_names=tuple(lanes),
        list_variables=_names(props.get("listVariables")
                              or process.ext.properties.get("listVariables")),
        exclude_completers_of=_names(props.get("excludeCompletersOf")),
        auto_assign=strategy if strategy in AUTO_ASSIGN_STRATEGIES else None,
    )


_template_lock = threading.Lock()
_templates: dict[tuple[int, str, str], TaskTemplate] = {}


def task_template(definition: ProcessDefinition, element_id: str) -> TaskTemplate:
    """The TaskTemplate of `element_id` in `definition`, computed once per definition row."""
    key = (definition.pk, definition.checksum, element_id)
    found = _templates.get(key)
    if found is not None:
        return found
    made = _template_of(definition, element_id)
    with _template_lock:
        if len(_templates) > 8192:
            _templates.clear()
        _templates[key] = made
    return made


def lane_group(template: TaskTemplate) -> str | None:
    """The first lane (innermost first) named like an existing group (case-insensitive)."""
    if not template.lane_names:
        return None
    query = Q()
    for name in template.lane_names:
        query |= Q(name__iexact=name)
    found = {g.lower(): g for g in Group.objects.filter(query).values_list("name", flat=True)}
    for name in template.lane_names:
        if name.lower() in found:
            return found[name.lower()]
    return None


# --- Object permissions --------------------------------------------------------------

_perm_cache: dict[str, int] = {}


def _forget_permission_ids(**_: Any) -> None:
    # A flushed test database recreates permissions (with new ids) in post_migrate.
    _perm_cache.clear()


post_migrate.connect(_forget_permission_ids, dispatch_uid="engine.user_tasks.perm_ids")


def permission_ids() -> dict[str, int]:
    """codename -> Permission id of the three task permissions (cached per process)."""
    if len(_perm_cache) < 3:
        content_type = ContentType.objects.get_for_model(UserTask)
        rows = Permission.objects.filter(content_type=content_type,
                                         codename__in=ASSIGNEE_PERMS)
        _perm_cache.update({p.codename: p.pk for p in rows})
    return _perm_cache


def _group_ids(names: Iterable[str]) -> dict[str, int]:
    """Django group ids by name; a name with no group gets an (empty) group, so that the
    offer is not lost: an admin adds the members and they see the task at once."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    found = dict(Group.objects.filter(name__in=wanted).values_list("name", "pk"))
    missing = [name for name in wanted if name not in found]
    if missing:
        Group.objects.bulk_create([Group(name=name) for name in missing],
                                  ignore_conflicts=True)
        found.update(Group.objects.filter(name__in=missing).values_list("name", "pk"))
    return found


def _grant_users(task: UserTask, user_ids: Iterable[int], codenames: Sequence[str]) -> None:
    perms = permission_ids()
    rows = [TaskUserPermission(user_id=uid, permission_id=perms[c], content_object=task)
            for uid in dict.fromkeys(user_ids) for c in codenames]
    if rows:
        TaskUserPermission.objects.bulk_create(rows, ignore_conflicts=True)


def _grant_groups(task: UserTask, group_ids: Iterable[int], codenames: Sequence[str]) -> None:
    perms = permission_ids()
    rows = [TaskGroupPermission(group_id=gid, permission_id=perms[c], content_object=task)
            for gid in dict.fromkeys(group_ids) for c in codenames]
    if rows:
        TaskGroupPermission.objects.bulk_create(rows, ignore_conflicts=True)


def _revoke_complete(task: UserTask, user_id: int | None) -> None:
    if user_id is not None:
        TaskUserPermission.objects.filter(content_object=task, user_id=user_id,
                                          permission_id=permission_ids()[COMPLETE]).delete()


def grant_task_offer(task: UserTask) -> None:
    """Object permissions of a new task: the assignee may view, claim and complete it;
    candidate users and candidate groups may view and claim it. Same transaction."""
    user_model = get_user_model()
    names = [n for n in task.candidate_users if n]
    candidates: list[int] = []
    if names:
        candidates = list(user_model._default_manager.filter(
            **{f"{user_model.USERNAME_FIELD}__in": names}).values_list("pk", flat=True))
    perms = permission_ids()
    rows = [TaskUserPermission(user_id=uid, permission_id=perms[c], content_object=task)
            for uid in candidates if uid != task.assignee_id for c in OFFER_PERMS]
    if task.assignee_id is not None:
        rows += [TaskUserPermission(user_id=task.assignee_id, permission_id=perms[c],
                                    content_object=task) for c in ASSIGNEE_PERMS]
    if rows:
        TaskUserPermission.objects.bulk_create(rows, ignore_conflicts=True)
    if task.candidate_groups:
        _grant_groups(task, _group_ids(task.candidate_groups).values(), OFFER_PERMS)


# --- Who may do what -----------------------------------------------------------------


def grant_offers_to_new_user(user: UserLike) -> int:
    """Give a user who was just created what open tasks offered to their name (as
    candidate user or assignee) before the account existed. Returns how many tasks."""
    name = user.get_username()
    quoted = f'"{name}"'
    found = [t for t in UserTask.objects.filter(status__in=list(USER_TASK_ACTIVE)).filter(
        Q(candidate_users__icontains=quoted) | Q(assignee_username=name))
        if name in t.candidate_users or t.assignee_username == name]
    for task in found:
        if task.assignee_username == name and task.assignee_id is None:
            UserTask.objects.filter(pk=task.pk, assignee__isnull=True).update(assignee=user)
            _grant_users(task, [int(user.pk)], ASSIGNEE_PERMS)
        else:
            _grant_users(task, [int(user.pk)], OFFER_PERMS)
    return len(found)


def is_process_admin(user: UserLike) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return bool(user.groups.filter(name=PROCESS_ADMIN_GROUP).exists())


def substituted_user_ids(user: UserLike, now: datetime) -> list[int]:
    """Users `user` substitutes at `now` (their substitution's range holds `now`)."""
    if user is None or user.pk is None:
        return []
    return list(TaskSubstitution.objects.filter(
        substitute_id=user.pk, starts_at__lte=now, ends_at__gt=now,
    ).values_list("user_id", flat=True))


def holders(task_pk: int, codename: str, user_ids: Sequence[int]) -> set[int]:
    """Which of `user_ids` hold permission `codename` on the task, directly or by group."""
    if not user_ids:
        return set()
    perm = permission_ids()[codename]
    direct = set(TaskUserPermission.objects.filter(
        content_object_id=task_pk, permission_id=perm, user_id__in=user_ids,
    ).values_list("user_id", flat=True))
    rest = [uid for uid in user_ids if uid not in direct]
    if rest:
        user_model = get_user_model()
        direct |= set(user_model._default_manager.filter(
            pk__in=rest, is_active=True,
            groups__taskgrouppermission__content_object_id=task_pk,
            groups__taskgrouppermission__permission_id=perm,
        ).values_list("pk", flat=True))
    return direct


def acting_for(user: UserLike, task: UserTask, codename: str,
               now: datetime) -> int | None:
    """The user id on whose behalf `user` holds `codename` on the task: their own id when
    they hold it, else the id of someone they substitute now who does; None when neither."""
    if user is None or not getattr(user, "is_active", True) or user.pk is None:
        return None
    if holders(task.pk, codename, [user.pk]):
        return int(user.pk)
    absent = substituted_user_ids(user, now)
    found = holders(task.pk, codename, absent)
    for uid in absent:
        if uid in found:
            return uid
    return None


def four_eyes_conflict(task: UserTask, user_id: int) -> str | None:
    """The excluded element whose task `user_id` completed in this instance, if any."""
    if not task.exclude_completers_of:
        return None
    found: str | None = UserTask.objects.filter(
        instance_id=task.instance_id, element_id__in=list(task.exclude_completers_of),
        completed_by_id=user_id, status=UserTaskStatus.COMPLETED,
    ).values_list("element_id", flat=True).first()
    return found


def _check_four_eyes(task: UserTask, user: UserLike) -> None:
    element = four_eyes_conflict(task, int(user.pk))
    if element is not None:
        raise FourEyesViolation(task.pk, user.get_username(), element)


def may(user: UserLike, task: UserTask, action: str,
        now: datetime | None = None) -> bool:
    """Whether `user` may `action` ("view" | "claim" | "complete" | "assign") the task now.

    The one rule the services enforce and the portal shows: view and claim come from the
    task's object permissions (own, a group's, or of someone the user substitutes now);
    claim also needs the task free (or held by someone the user substitutes) and the
    four-eyes rule kept; complete needs the user (or whom they substitute) to be the
    assignee holding complete_usertask; assign is for process admins.
    """
    at = now or timezone.now()
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if action == "assign":
        return is_process_admin(user) and task.status in USER_TASK_ACTIVE
    if action == "view":
        return is_process_admin(user) or acting_for(user, task, VIEW, at) is not None
    if task.status not in USER_TASK_ACTIVE:
        return False
    if four_eyes_conflict(task, int(user.pk)) is not None:
        return False
    if action == "claim":
        if task.assignee_id is not None:
            return (task.assignee_id != user.pk
                    and task.assignee_id in substituted_user_ids(user, at))
        return task.assignee_username is None and acting_for(user, task, CLAIM, at) is not None
    if action == "complete":
        if task.delegation_state == DELEGATION_PENDING:
            return False
        return _completer_for(user, task, at) is not None
    if action in ("unclaim", "delegate", "resolve"):
        return _completer_for(user, task, at) is not None
    raise InvalidTaskAction(f"unknown task action {action!r}")


def _completer_for(user: UserLike, task: UserTask, now: datetime) -> int | None:
    """The assignee id `user` works the task as (self or substituted), if allowed."""
    if task.assignee_id is None:
        return None
    if task.assignee_id != user.pk and task.assignee_id not in substituted_user_ids(user, now):
        return None
    return task.assignee_id if holders(task.pk, COMPLETE, [task.assignee_id]) else None


# --- Locking and recording -----------------------------------------------------------


def _task_instance_id(task_id: int) -> int | None:
    """The instance of task `task_id` (it never changes, so it is read before any lock)."""
    if not db_rows.postgresql():
        found: int | None = (UserTask.objects.filter(pk=task_id)
                             .values_list("instance_id", flat=True).first())
        return found
    with db_rows.cursor() as cur:
        cur.execute(_INSTANCE_OF_TASK_SQL, [task_id])
        row = cur.fetchone()
    return None if row is None else int(row[0])


_INSTANCE_OF_TASK_SQL = f"SELECT instance_id FROM {UserTask._meta.db_table} WHERE id = %s"  # noqa: S608


def _lock(task_id: int, *, active: bool = True) -> tuple[ProcessInstance, UserTask]:
    instance_id = _task_instance_id(task_id)
    if instance_id is None:
        raise TaskNotFound(task_id)
    instance = locks.lock_instance(instance_id)
    task = locks.lock_user_task(task_id)
    if active and task.status not in USER_TASK_ACTIVE:
        raise TaskNotOpen(task_id, task.status)
    return instance, task


def _username(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user_model = get_user_model()
    found: str | None = (user_model._default_manager.filter(pk=user_id)
                         .values_list(user_model.USERNAME_FIELD, flat=True).first())
    return found


def _record(task: UserTask, kind: str, *, actor: UserLike | None, at: datetime,
            change: str, data: dict[str, Any], on_behalf_of: int | None = None) -> None:
    """Audit the change on the instance's chain and tell the portal (same transaction)."""
    details = {"task": task.pk, **data}
    if on_behalf_of is not None and actor is not None and on_behalf_of != actor.pk:
        details["on_behalf_of"] = _username(on_behalf_of)
    audit_append(chain=instance_chain(task.instance_id), kind=kind, at=at, actor=actor,
                 instance_id=task.instance_id, element_id=task.element_id, data=details)
    user_task_changed.send(sender=UserTask, task=task, change=change, actor=actor,
                           data=details)


def _require(actor: UserLike | None, task: UserTask, action: str) -> None:
    if actor is None:
        raise InvalidTaskAction(f"{action} needs a user")


def _set_assignee(task: UserTask, user_id: int | None, username: str | None,
                  *, at: datetime, perms: Sequence[str] = ASSIGNEE_PERMS) -> None:
    """Move the task to `user_id` (None: back to the pool): permissions follow."""
    if task.assignee_id is not None and task.assignee_id != user_id:
        _revoke_complete(task, task.assignee_id)
    task.assignee_id = user_id
    task.assignee_username = username
    if user_id is None:
        if task.status == UserTaskStatus.CLAIMED:
            task.status = user_task_transition(task.status, UserTaskStatus.OPEN)
        task.claimed_at = None
    else:
        _grant_users(task, [user_id], perms)
        if task.status == UserTaskStatus.OPEN:
            task.status = user_task_transition(task.status, UserTaskStatus.CLAIMED)
        task.claimed_at = at


_ASSIGN_FIELDS = ["assignee", "assignee_username", "status", "claimed_at", "owner",
                  "delegation_state"]


# --- The services --------------------------------------------------------------------


@transaction.atomic
def user_task_claim(*, task_id: int, actor: UserLike,
                    now: datetime | None = None) -> UserTask:
    """Give an open task to `actor`. TaskAlreadyClaimed names who holds it; a task the
    actor may not see or take is TaskNotPermitted; the four-eyes rule FourEyesViolation.
    A substitute may take over a task held by the person they stand in for."""
    _instance, task = _lock(task_id)
    _require(actor, task, "claim")
    at = now or timezone.now()
    on_behalf: int | None
    if task.assignee_id == actor.pk:
        return task  # claiming what one holds already changes nothing
    if task.assignee_id is not None or task.assignee_username:
        if task.assignee_id is not None and task.assignee_id in substituted_user_ids(actor, at):
            on_behalf = task.assignee_id
        else:
            if acting_for(actor, task, VIEW, at) is None and not is_process_admin(actor):
                raise TaskNotPermitted(task.pk, "claim", actor.get_username())
            holder = _username(task.assignee_id) or task.assignee_username or "someone"
            raise TaskAlreadyClaimed(task.pk, by=holder)
    else:
        on_behalf = acting_for(actor, task, CLAIM, at)
        if on_behalf is None:
            raise TaskNotPermitted(task.pk, "claim", actor.get_username())
    _check_four_eyes(task, actor)
    _set_assignee(task, int(actor.pk), actor.get_username(), at=at)
    task.save(update_fields=_ASSIGN_FIELDS)
    _record(task, AuditKind.TASK_CLAIMED, actor=actor, at=at, change="claimed",
            data={"assignee": actor.get_username()}, on_behalf_of=on_behalf)
    return task


@transaction.atomic
def user_task_unclaim(*, task_id: int, actor: UserLike,
                      now: datetime | None = None) -> UserTask:
    """Hand a claimed task back to its candidates (the assignee, their substitute, or an
    admin)."""
    _instance, task = _lock(task_id)
    _require(actor, task, "unclaim")
    at = now or timezone.now()
    if task.assignee_id is None and not task.assignee_username:
        return task
    if task.delegation_state == DELEGATION_PENDING:
        raise TaskDelegationPending(task.pk, _username(task.owner_id) or "the owner")
    on_behalf = _completer_for(actor, task, at)
    if on_behalf is None and not is_process_admin(actor):
        raise TaskNotPermitted(task.pk, "unclaim", actor.get_username())
    previous = _username(task.assignee_id) or task.assignee_username
    _set_assignee(task, None, None, at=at)
    task.save(update_fields=_ASSIGN_FIELDS)
    _record(task, AuditKind.TASK_UNCLAIMED, actor=actor, at=at, change="unclaimed",
            data={"previous": previous}, on_behalf_of=on_behalf)
    return task


def _active_user(user: UserLike | int | str, task: UserTask) -> UserLike:
    user_model = get_user_model()
    manager = user_model._default_manager
    if isinstance(user, int):
        found = manager.filter(pk=user, is_active=True).first()
    elif isinstance(user, str):
        found = manager.filter(**{user_model.USERNAME_FIELD: user}, is_active=True).first()
    else:
        found = user if getattr(user, "is_active", False) else None
    if found is None:
        raise InvalidTaskAction(f"no active user {user!r} to give user task {task.pk} to")
    return found


@transaction.atomic
def user_task_assign(*, task_id: int, actor: UserLike | None,
                     assignee: UserLike | int | str | None,
                     now: datetime | None = None) -> UserTask:
    """A process admin gives the task to `assignee` (a user, id or username), or back to
    the pool with None. A pending delegation ends. The four-eyes rule still holds."""
    _instance, task = _lock(task_id)
    at = now or timezone.now()
    if actor is not None and not is_process_admin(actor):
        raise TaskNotPermitted(task.pk, "reassign", actor.get_username())
    previous = _username(task.assignee_id) or task.assignee_username
    target = None if assignee is None else _active_user(assignee, task)
    if target is not None:
        _check_four_eyes(task, target)
        if target.pk == task.assignee_id and not task.delegation_state:
            return task
    if task.owner_id is not None:
        task.owner_id = None
        task.delegation_state = ""
    _set_assignee(task, None if target is None else int(target.pk),
                  None if target is None else target.get_username(), at=at)
    task.save(update_fields=_ASSIGN_FIELDS)
    _record(task, AuditKind.TASK_ASSIGNED, actor=actor, at=at, change="assigned",
            data={"to": None if target is None else target.get_username(),
                  "from": previous})
    return task


@transaction.atomic
def user_task_delegate(*, task_id: int, actor: UserLike,
                       to_user: UserLike | int | str,
                       now: datetime | None = None) -> UserTask:
    """The assignee asks `to_user` to work the task; the assignee stays its owner and gets
    it back when the delegate resolves it (Camunda 7's delegateTask / resolveTask)."""
    _instance, task = _lock(task_id)
    _require(actor, task, "delegate")
    at = now or timezone.now()
    on_behalf = _completer_for(actor, task, at)
    if on_behalf is None:
        raise TaskNotPermitted(task.pk, "delegate", actor.get_username())
    delegate = _active_user(to_user, task)
    if delegate.pk == task.assignee_id:
        raise InvalidTaskAction(f"user task {task.pk} is already with {delegate}")
    _check_four_eyes(task, delegate)
    if task.owner_id is None:
        task.owner_id = task.assignee_id
    task.delegation_state = DELEGATION_PENDING
    # A delegate works the task and gives it back; they are no candidate, so no claim right
    # (they cannot take it from the pool later).
    _set_assignee(task, int(delegate.pk), delegate.get_username(), at=at,
                  perms=(VIEW, COMPLETE))
    task.save(update_fields=_ASSIGN_FIELDS)
    _record(task, AuditKind.TASK_DELEGATED, actor=actor, at=at, change="delegated",
            data={"to": delegate.get_username(), "owner": _username(task.owner_id)},
            on_behalf_of=on_behalf)
    return task


@transaction.atomic
def user_task_resolve(*, task_id: int, actor: UserLike,
                      variables: Mapping[str, object] | None = None,
                      now: datetime | None = None) -> UserTask:
    """The delegate hands the task back to its owner, optionally with proposed values
    (kept on the task; the owner's values win when the owner completes it)."""
    _instance, task = _lock(task_id)
    _require(actor, task, "resolve")
    at = now or timezone.now()
    if task.delegation_state != DELEGATION_PENDING or task.owner_id is None:
        raise TaskNotDelegated(task.pk)
    on_behalf = _completer_for(actor, task, at)
    if on_behalf is None:
        raise TaskNotPermitted(task.pk, "resolve", actor.get_username())
    values = json_variables(variables)
    task.resolved_variables = {**(task.resolved_variables or {}), **values}
    owner = task.owner_id
    task.delegation_state = DELEGATION_RESOLVED
    _set_assignee(task, owner, _username(owner), at=at)
    task.save(update_fields=[*_ASSIGN_FIELDS, "resolved_variables"])
    _record(task, AuditKind.TASK_RESOLVED, actor=actor, at=at, change="resolved",
            data={"owner": task.assignee_username, "variables": sorted(values)},
            on_behalf_of=on_behalf)
    return task


@transaction.atomic
def user_task_comment(*, task_id: int, actor: UserLike, text: str,
                      now: datetime | None = None) -> TaskComment:
    """Add a comment to a task the actor may see (open or ended)."""
    _instance, task = _lock(task_id, active=False)
    _require(actor, task, "comment")
    at = now or timezone.now()
    body = (text or "").strip()
    if not body:
        raise InvalidTaskAction("a comment needs some text")
    if len(body) > MAX_COMMENT:
        raise InvalidTaskAction(f"a comment is at most {MAX_COMMENT} characters")
    if not may(actor, task, "view", at):
        raise TaskNotPermitted(task.pk, "comment on", actor.get_username())
    comment = TaskComment.objects.create(task=task, author_id=actor.pk, text=body,
                                         created_at=at)
    _record(task, AuditKind.TASK_COMMENTED, actor=actor, at=at, change="commented",
            data={"comment": comment.pk, "text": body})
    return comment


@transaction.atomic
def user_task_complete(
    *,
    task_id: int,
    actor: UserLike | None,
    variables: Mapping[str, object] | None = None,
    now: datetime | None = None,
) -> UserTask:
    """Complete user task `task_id` (the row's pk) with `variables` (process variables).

    Locks the instance, then the task; a task that is no longer open raises TaskNotOpen,
    so completing one task twice at once completes it exactly once. A user actor must be
    the assignee (or substitute the assignee) holding complete_usertask, and the
    four-eyes rule must hold; `actor=None` is the engine and is not checked.
    """
    instance, task = _lock(task_id)
    at = now or timezone.now()
    on_behalf: int | None = None
    if actor is not None:
        if task.delegation_state == DELEGATION_PENDING:
            raise TaskDelegationPending(task.pk, _username(task.owner_id) or "the owner")
        on_behalf = _completer_for(actor, task, at)
        if on_behalf is None:
            if task.assignee_id is not None and task.assignee_id != actor.pk and \
                    acting_for(actor, task, VIEW, at) is not None:
                raise TaskAlreadyClaimed(task.pk, by=_username(task.assignee_id) or "someone")
            if task.assignee_id is None and acting_for(actor, task, CLAIM, at) is not None:
                raise TaskNotPermitted(task.pk, "complete (claim it first)",
                                       actor.get_username())
            raise TaskNotPermitted(task.pk, "complete", actor.get_username())
        _check_four_eyes(task, actor)
    values = json_variables(variables)
    if task.resolved_variables:
        values = {**task.resolved_variables, **values}
    actor_name = actor.get_username() if actor is not None else None
    # The row is completed before the step runs: if the step ends the instance, the
    # shell's clean-up then sees no open task left here.
    task.status = user_task_transition(task.status, UserTaskStatus.COMPLETED)
    task.completed_at = at
    task.completed_by_id = actor.pk if actor is not None else None
    db_rows.update(task, ["status", "completed_at", "completed_by"])
    run_trigger(instance, runtime.TaskCompleted(task.task_id, values, actor_name), now=at,
                actor=actor)
    details: dict[str, Any] = {"task": task.pk}
    if actor is not None and on_behalf is not None and on_behalf != actor.pk:
        details["on_behalf_of"] = _username(on_behalf)
        audit_append(chain=instance_chain(task.instance_id), kind=AuditKind.TASK_COMPLETED,
                     at=at, actor=actor, instance_id=task.instance_id,
                     element_id=task.element_id, data=details)
    user_task_changed.send(sender=UserTask, task=task, change="completed", actor=actor,
                           data=details)
    return task


@transaction.atomic
def user_task_escalate(*, task_id: int, to_group: str, actor: UserLike | None = None,
                       reason: str = "", now: datetime | None = None) -> UserTask:
    """Offer the task to `to_group` as well (an SLA breach, or an admin); audited."""
    _instance, task = _lock(task_id)
    at = now or timezone.now()
    if actor is not None and not is_process_admin(actor):
        raise TaskNotPermitted(task.pk, "escalate", actor.get_username())
    group = (to_group or "").strip()
    if not group:
        raise InvalidTaskAction("escalation needs a group")
    if group not in task.candidate_groups:
        task.candidate_groups = [*task.candidate_groups, group]
        UserTaskCandidateGroup.objects.bulk_create(
            [UserTaskCandidateGroup(task=task, group_name=group)], ignore_conflicts=True)
    _grant_groups(task, _group_ids([group]).values(), OFFER_PERMS)
    task.escalated_at = at
    task.save(update_fields=["candidate_groups", "escalated_at"])
    _record(task, AuditKind.TASK_ESCALATED, actor=actor, at=at, change="escalated",
            data={"group": group, "reason": reason})
    return task


def assign_automatically(task: UserTask, strategy: str, *, now: datetime,
                         scope_groups: Sequence[str] = ()) -> UserLike | None:
    """Pick an assignee for a new, unassigned task among its candidates and give it to
    them (in the caller's transaction, the instance locked). "round-robin" takes the
    candidate whose last task of this kind (process and element, or in `scope_groups`)
    is the oldest (by row id, so tasks made in the same instant still take turns);
    "least-loaded" the one with the fewest open tasks. Candidates who would break the
    four-eyes rule are skipped. Returns the user, or None without candidates."""
    user_model = get_user_model()
    offered = Q(pk__in=[])
    if task.candidate_users:
        offered |= Q(**{f"{user_model.USERNAME_FIELD}__in": list(task.candidate_users)})
    if task.candidate_groups:
        offered |= Q(groups__name__in=list(task.candidate_groups))
    candidates = user_model._default_manager.filter(offered, is_active=True).distinct()
    if task.exclude_completers_of:
        excluded = UserTask.objects.filter(
            instance_id=task.instance_id, element_id__in=list(task.exclude_completers_of),
            status=UserTaskStatus.COMPLETED, completed_by__isnull=False,
        ).values("completed_by_id")
        candidates = candidates.exclude(pk__in=excluded)
    name = user_model.USERNAME_FIELD
    ranked: Any
    if strategy == "least-loaded":
        ranked = candidates.annotate(load=Count(
            "assigned_tasks", filter=Q(assigned_tasks__status__in=list(USER_TASK_ACTIVE)),
            distinct=True)).order_by("load", name)
    else:
        if scope_groups:
            kind = Q(assigned_tasks__group_offers__group_name__in=list(scope_groups))
        else:
            kind = Q(assigned_tasks__process_key=task.process_key,
                     assigned_tasks__element_id=task.element_id)
        ranked = candidates.annotate(last=Max("assigned_tasks__id", filter=kind)
                                     ).order_by(F("last").asc(nulls_first=True), name)
    chosen = ranked.first()
    if chosen is None:
        return None
    _set_assignee(task, int(chosen.pk), chosen.get_username(), at=now)
    task.save(update_fields=_ASSIGN_FIELDS)
    # Receivers of user_task_created that run after this one see who was chosen.
    task._auto_assigned = strategy  # type: ignore[attr-defined]
    _record(task, AuditKind.TASK_ASSIGNED, actor=None, at=now, change="assigned",
            data={"to": chosen.get_username(), "from": None, "auto": strategy})
    return chosen


# --- Bulk actions --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What a bulk action did: the task ids done, and per failed id its error."""

    done: tuple[int, ...] = ()
    failed: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


BULK_ACTIONS = ("claim", "unclaim", "assign", "complete")


def _form_signature(task: UserTask) -> str:
    return f"{task.process_key}:{task.element_id}"


def user_task_bulk(*, task_ids: list[int], actor: UserLike, action: str,
                   **kwargs: Any) -> BulkResult:
    """Run one action on many tasks, each in its own transaction: one refused task (taken
    meanwhile, not permitted) does not undo the others. `complete` takes `variables`
    (the same decision for all) and needs tasks whose forms agree (same process and
    task element, or identical forms); `assign` takes `assignee`."""
    if action not in BULK_ACTIONS:
        raise InvalidTaskAction(f"unknown bulk action {action!r}; one of {BULK_ACTIONS}")
    ids = list(dict.fromkeys(int(i) for i in task_ids))
    if not ids:
        return BulkResult()
    if action == "complete":
        rows = list(UserTask.objects.filter(pk__in=ids).only(
            "pk", "process_key", "element_id", "form"))
        kinds = {_form_signature(t) for t in rows}
        forms = {repr(t.form) for t in rows}
        if len(kinds) > 1 and len(forms) > 1:
            raise BulkFormsDiffer(sorted(kinds))
    done: list[int] = []
    failed: dict[int, Mapping[str, Any]] = {}
    for task_id in ids:
        try:
            if action == "claim":
                user_task_claim(task_id=task_id, actor=actor, now=kwargs.get("now"))
            elif action == "unclaim":
                user_task_unclaim(task_id=task_id, actor=actor, now=kwargs.get("now"))
            elif action == "assign":
                user_task_assign(task_id=task_id, actor=actor, assignee=kwargs.get("assignee"),
                                 now=kwargs.get("now"))
            else:
                user_task_complete(task_id=task_id, actor=actor,
                                   variables=kwargs.get("variables"), now=kwargs.get("now"))
        except EngineError as exc:
            failed[task_id] = exc.as_dict()
        else:
            done.append(task_id)
    return BulkResult(done=tuple(done), failed=failed)


# --- Substitution and saved views ----------------------------------------------------


@transaction.atomic
def task_substitution_create(*, user: UserLike, substitute: UserLike | int | str,
                             starts_at: datetime, ends_at: datetime,
                             actor: UserLike,
                             now: datetime | None = None) -> TaskSubstitution:
    """`substitute` works the tasks offered to `user` from starts_at until ends_at.
    The user names their own substitute; a process admin may do it for anyone."""
    if actor.pk != user.pk and not is_process_admin(actor):
        raise TaskNotPermitted(0, f"name a substitute for {user.get_username()}",
                               actor.get_username())
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidTaskAction("substitution dates need a time zone")
    if ends_at <= starts_at:
        raise InvalidTaskAction("a substitution must end after it starts")
    user_model = get_user_model()
    if isinstance(substitute, int):
        stand_in = user_model._default_manager.filter(pk=substitute, is_active=True).first()
    elif isinstance(substitute, str):
        stand_in = user_model._default_manager.filter(
            **{user_model.USERNAME_FIELD: substitute}, is_active=True).first()
    else:
        stand_in = substitute if getattr(substitute, "is_active", False) else None
    if stand_in is None:
        raise InvalidTaskAction(f"no active user {substitute!r} to substitute")
    if stand_in.pk == user.pk:
        raise InvalidTaskAction("nobody can substitute for themselves")
    return TaskSubstitution.objects.create(user_id=user.pk, substitute_id=stand_in.pk,
                                           starts_at=starts_at, ends_at=ends_at,
                                           created_at=now or timezone.now())


@transaction.atomic
def task_substitution_end(*, substitution_id: int, actor: UserLike) -> None:
    """Remove a substitution (its user, the substitute, or an admin)."""
    row = TaskSubstitution.objects.filter(pk=substitution_id).first()
    if row is None:
        raise InvalidTaskAction(f"no substitution {substitution_id}")
    if actor.pk not in (row.user_id, row.substitute_id) and not is_process_admin(actor):
        raise TaskNotPermitted(0, "end this substitution", actor.get_username())
    row.delete()


@transaction.atomic
def saved_inbox_view_save(*, owner: UserLike, name: str, view: str = "mine",
                          filters: Mapping[str, Any] | None = None, order: str = "due",
                          shared_with: str | None = None,
                          now: datetime | None = None) -> SavedInboxView:
    """Save (or overwrite) the owner's view `name`; `shared_with` a group the owner is in."""
    from engine.selectors import INBOX_ORDERS, INBOX_VIEWS, InboxFilters

    label = (name or "").strip()
    if not label or len(label) > 100:
        raise InvalidTaskAction("a saved view needs a name of 1 to 100 characters")
    if view not in INBOX_VIEWS:
        raise InvalidTaskAction(f"unknown inbox view {view!r}; one of {INBOX_VIEWS}")
    if order not in INBOX_ORDERS:
        raise InvalidTaskAction(f"unknown inbox order {order!r}; one of {INBOX_ORDERS}")
    stored = InboxFilters.from_dict(filters or {}).to_dict()
    group = None
    if shared_with:
        group = Group.objects.filter(name=shared_with).first()
        if group is None:
            raise InvalidTaskAction(f"no group {shared_with!r} to share the view with")
        if not owner.groups.filter(pk=group.pk).exists() and not is_process_admin(owner):
            raise TaskNotPermitted(0, f"share a view with {shared_with}", owner.get_username())
    saved, _ = SavedInboxView.objects.update_or_create(
        owner_id=owner.pk, name=label,
        defaults={"view": view, "filters": stored, "order": order, "shared_with": group},
        create_defaults={"view": view, "filters": stored, "order": order,
                         "shared_with": group, "created_at": now or timezone.now()},
    )
    return saved


@transaction.atomic
def saved_inbox_view_delete(*, view_id: int, actor: UserLike) -> None:
    """Delete a saved view; only its owner (or an admin) may."""
    row = SavedInboxView.objects.filter(pk=view_id).first()
    if row is None:
        raise InvalidTaskAction(f"no saved view {view_id}")
    if row.owner_id != actor.pk and not is_process_admin(actor):
        raise TaskNotPermitted(0, f"delete the saved view {row.name!r}", actor.get_username())
    row.delete()
