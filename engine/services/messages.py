"""Message correlation and signal broadcast: outside events delivered to instances."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from engine.errors import (
    DeliveryTooDeep,
    MessageAmbiguous,
    MessageNotCorrelated,
)
from engine.models import ProcessInstance
from engine.services._shell import broadcast_signal, correlate_message, json_variables

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

__all__ = [
    "DeliveryTooDeep",
    "MessageAmbiguous",
    "MessageNotCorrelated",
    "message_correlate",
    "signal_throw",
]


@transaction.atomic
def message_correlate(
    *,
    name: str,
    business_key: str | None = None,
    correlation: Mapping[str, object] | None = None,
    variables: Mapping[str, object] | None = None,
    actor: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> tuple[ProcessInstance, bool]:
    """Deliver message `name` to exactly one target; returns (instance, started).

    Targets: a waiting message subscription of a running instance, narrowed by
    `business_key` and by `correlation` (equal to the subscription's own correlation
    keys, or, for a subscription without keys, to the instance's process variables);
    when none matches, a message start event of a latest definition (a new instance with
    `business_key`). None: MessageNotCorrelated; several: MessageAmbiguous.
    `variables` become process variables.
    """
    return correlate_message(
        name=name, business_key=business_key, correlation=correlation,
        variables=json_variables(variables), now=now or timezone.now(), actor=actor,
    )


@transaction.atomic
def signal_throw(
    *,
    name: str,
    variables: Mapping[str, object] | None = None,
    actor: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> int:
    """Broadcast signal `name` to every waiting catcher of every running instance, and
    start an instance of every latest definition with a signal start event of that name.
    Returns how many instances received it (0 is not an error: nobody listened)."""
    return broadcast_signal(name=name, variables=json_variables(variables),
                            now=now or timezone.now(), actor=actor)
