"""Messages and signals over HTTP."""

from __future__ import annotations

import pytest

from engine.models import ProcessInstance
from engine.services.instances import process_instance_start
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(deployed, people):
    deployed("order.bpmn")
    return [process_instance_start(key="order", business_key=bk, actor=people["system"],
                                   variables={"customer": c})[0]
            for bk, c in (("ORD-1", "acme"), ("ORD-2", "umbrella"))]


def _active(instance):
    from engine.selectors import instance_active_elements

    return instance_active_elements(instance=ProcessInstance.objects.get(pk=instance.pk))


def test_message_by_business_key_reaches_that_instance(as_token, orders, people):
    response = as_token("correlate").post("/api/v1/messages/", {
        "name": "PaymentReceived", "business_key": "ORD-2", "variables": {"paid": 10}},
        format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {"process_instance": orders[1].pk, "started": False}
    assert _active(orders[1]) == ["WaitGo"] and _active(orders[0]) == ["WaitPayment"]


def test_message_by_correlation_variables(as_token, orders):
    response = as_token("correlate").post("/api/v1/messages/", {
        "name": "PaymentReceived", "correlation": {"customer": "acme"}}, format="json")

    assert response.json()["process_instance"] == orders[0].pk


def test_message_matching_nobody_or_several_changes_nothing(as_token, orders):
    client = as_token("correlate")

    none = client.post("/api/v1/messages/", {"name": "PaymentReceived",
                                             "business_key": "ORD-9"}, format="json")
    several = client.post("/api/v1/messages/", {"name": "PaymentReceived"}, format="json")

    assert_problem(none, 404, "message.not-correlated")
    assert_problem(several, 409, "message.ambiguous")
    assert [_active(o) for o in orders] == [["WaitPayment"], ["WaitPayment"]]


@pytest.mark.parametrize("body", ['{"business_key": "ORD-1"}', '{"name": 5}',
                                  '{"name": "x", "correlation": [1]}', "{"])
def test_bad_message_bodies_are_400(as_token, orders, body):
    response = as_token("correlate").post("/api/v1/messages/", body,
                                          content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] in ("request.invalid", "request.malformed")


def test_signal_reaches_every_waiting_instance(as_token, orders):
    client = as_token("correlate")
    for order in orders:
        client.post("/api/v1/messages/", {"name": "PaymentReceived",
                                          "business_key": order.business_key}, format="json")

    response = client.post("/api/v1/signals/", {"name": "Go"}, format="json")
    nobody = client.post("/api/v1/signals/", {"name": "Nobody listens"}, format="json")

    assert response.json() == {"delivered": 2}
    assert nobody.json() == {"delivered": 0}
    assert [_active(o) for o in orders] == [["Charge"], ["Charge"]]
    assert_problem(client.post("/api/v1/signals/", {}, format="json"), 400, "request.invalid")
