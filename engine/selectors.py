"""Reads. Permission filtering for engine data belongs here, in one place."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from engine.models import ProcessDefinition


def process_definition_list(*, latest_only: bool = True) -> QuerySet[ProcessDefinition]:
    """Deployed definitions by name and key; with `latest_only`, the newest version per key."""
    definitions = ProcessDefinition.objects.select_related("deployed_by", "deployment").defer(
        "bpmn_bytes"
    )
    if latest_only:
        newer = ProcessDefinition.objects.filter(
            key=OuterRef("key"), version__gt=OuterRef("version")
        )
        definitions = definitions.exclude(Exists(newer))
    return definitions.order_by("name", "key", "-version")
