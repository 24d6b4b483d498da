"""Starting a process from the portal: the start event's form, who may start, one click once."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from engine.models import ProcessInstance, UserTask
from engine.services.deployments import deployment_create
from tests.engine._instances import FIXTURES

pytestmark = pytest.mark.django_db

DEMO = FIXTURES.parents[2] / "engine" / "demo" / "approval.bpmn"
STARTERS_ONLY = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="t">
  <bpmn:process id="payroll" name="Payroll run" isExecutable="true"
                camunda:candidateStarterGroups="payroll_team">
    <bpmn:startEvent id="S" /><bpmn:sequenceFlow id="F" sourceRef="S" targetRef="E" />
    <bpmn:endEvent id="E" />
  </bpmn:process>
</bpmn:definitions>"""


def _user(name: str, *groups: str) -> User:
    user = User.objects.create_user(name, password="pw")
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def _deploy_demo() -> None:
    deployment_create(files=[("approval.bpmn", DEMO.read_bytes())], actor=None)


def test_an_approver_starts_the_demo_request_with_its_start_form(client):
    _deploy_demo()
    client.force_login(_user("dora", "approver"))

    page = client.get("/start/approval/")
    answer = client.post("/start/approval/", {"business_key": "REQ-7", "amount": "1500",
                                              "purpose": "A desk", "once": "k1"})

    assert page.status_code == 200
    assert b'name="amount"' in page.content and b'name="purpose"' in page.content
    assert answer.status_code == 302
    instance = ProcessInstance.objects.get(business_key="REQ-7")
    review = UserTask.objects.get(instance=instance, element_id="Task_Review")
    # camunda:initiator="requester": the starter is the requester, not a typed-in name.
    assert review.list_variables == {"amount": 1500, "requester": "dora", "purpose": "A desk"}


def test_a_refused_value_is_shown_next_to_its_field_and_nothing_starts(client):
    _deploy_demo()
    client.force_login(_user("dora", "approver"))

    answer = client.post("/start/approval/", {"amount": "0", "purpose": "", "once": "k2"})

    assert answer.status_code == 400
    assert b"Must be at least 1" in answer.content
    assert b"This field is required." in answer.content
    assert ProcessInstance.objects.count() == 0


def test_posting_the_same_form_twice_starts_one_instance(client):
    _deploy_demo()
    client.force_login(_user("dora", "approver"))
    form = {"amount": "20", "purpose": "Pens", "once": "same-form"}

    client.post("/start/approval/", form)
    client.post("/start/approval/", form)

    assert ProcessInstance.objects.count() == 1


def test_only_the_models_candidate_starters_may_start_it(client):
    deployment_create(files=[("payroll.bpmn", STARTERS_ONLY)], actor=None)
    client.force_login(_user("ann", "approver"))
    refused = client.post("/start/payroll/", {"once": "x"})
    home = client.get("/")
    client.force_login(_user("pat", "payroll_team"))
    allowed = client.post("/start/payroll/", {"once": "y"})

    assert refused.status_code == 403 and b"/start/payroll/" not in home.content
    assert allowed.status_code == 302
    assert ProcessInstance.objects.get().started_by.username == "pat"


def test_people_without_a_role_see_no_start_link_and_are_refused(client):
    _deploy_demo()
    client.force_login(_user("eve"))

    assert b"/start/approval/" not in client.get("/").content
    assert client.get("/start/approval/").status_code == 403
