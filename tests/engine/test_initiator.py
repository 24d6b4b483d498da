"""camunda:initiator: the start event's variable holds the user who started the instance."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from engine.services.instances import process_instance_start
from tests.engine._instances import NOW, deploy, open_task

pytestmark = pytest.mark.django_db


def test_the_initiator_variable_assigns_the_task_to_whoever_started_the_instance(db):
    ann = get_user_model().objects.create_user("ann")
    deploy("engine_initiator.bpmn")

    instance, _ = process_instance_start(key="initiator_rework", actor=ann, now=NOW)

    task = open_task(instance.pk, "Rework")
    assert task.assignee_username == "ann" and task.assignee_id == ann.pk


def test_a_caller_cannot_pass_someone_else_as_the_initiator(db):
    ann = get_user_model().objects.create_user("ann")
    deploy("engine_initiator.bpmn")

    instance, _ = process_instance_start(key="initiator_rework", actor=ann,
                                         variables={"starter": "mallory"}, now=NOW)

    assert open_task(instance.pk, "Rework").assignee_username == "ann"


def test_without_a_user_the_variable_is_whatever_the_caller_gave(db):
    deploy("engine_initiator.bpmn")

    instance, _ = process_instance_start(key="initiator_rework", variables={"starter": "bob"},
                                         now=NOW)

    assert open_task(instance.pk, "Rework").assignee_username == "bob"
