"""Helpers for the inbox tests: users in groups, and instances of the inbox fixtures."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User

from engine.models import ProcessInstance, UserTask
from engine.services.instances import process_instance_start
from engine.services.user_tasks import user_task_complete
from tests.engine._instances import NOW, deploy, open_task

REVIEW_VARS = {"submitter": "sam", "priority": 60, "amount": 1200, "vendor": "ACME"}


def user(name: str, *groups: str, **fields: Any) -> User:
    """A user in `groups` (created when missing)."""
    made = User.objects.create_user(name, password="x", **fields)
    for group in groups:
        made.groups.add(Group.objects.get_or_create(name=group)[0])
    return made


def start(key: str, *, variables: dict[str, Any] | None = None, business_key: str | None = None,
          deployed: bool = False) -> ProcessInstance:
    if not deployed:
        deploy(f"{key}.bpmn")
    instance, _ = process_instance_start(key=key, variables=variables or {}, now=NOW,
                                         business_key=business_key)
    return instance


def review(*, submitter: str = "sam", submitted_by: User | None = None, deployed: bool = False,
           **variables: Any) -> tuple[ProcessInstance, UserTask]:
    """An inbox_review instance after Submit: its Review task is open, offered to finance
    and carol. `submitted_by` completes Submit as that user (else the engine does)."""
    instance = start("inbox_review", variables={**REVIEW_VARS, "submitter": submitter,
                                                **variables}, deployed=deployed)
    user_task_complete(task_id=open_task(instance.pk, "Submit").pk, actor=submitted_by,
                       now=NOW)
    return instance, open_task(instance.pk, "Review")
