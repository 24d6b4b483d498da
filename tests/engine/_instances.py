"""Helpers for instance tests: deploy a fixture model and find an instance's rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from engine.models import Job, ProcessDefinition, UserTask
from engine.services.deployments import deployment_create

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
# approval.bpmn assigns its task to ${requester}.
REQ = {"requester": "ann"}


def deploy(name: str) -> ProcessDefinition:
    """Deploy fixture `name` and return its (single) newest definition."""
    deployment = deployment_create(files=[(name, (FIXTURES / name).read_bytes())], actor=None)
    return deployment.process_definitions.get()


def open_task(instance_id: int, element_id: str) -> UserTask:
    return UserTask.objects.get(instance_id=instance_id, element_id=element_id, status="open")


def job_of(instance_id: int, element_id: str) -> Job:
    return Job.objects.get(instance_id=instance_id, element_id=element_id)
