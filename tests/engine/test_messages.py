"""Message correlation (business key, correlation variables, start events) and signals."""

from __future__ import annotations

import pytest

from engine import audit
from engine.models import EventSubscription, ProcessInstance, instance_chain
from engine.services.instances import process_instance_start, process_instance_suspend
from engine.services.messages import (
    MessageAmbiguous,
    MessageNotCorrelated,
    message_correlate,
    signal_throw,
)
from tests.engine._instances import NOW, deploy, open_task

pytestmark = pytest.mark.django_db


def _waiting(business_key: str, **variables: object) -> ProcessInstance:
    instance, _ = process_instance_start(key="receive_payment", business_key=business_key,
                                         variables=variables, now=NOW)
    return instance


def test_message_correlated_by_business_key_reaches_only_that_instance(db):
    deploy("receive_payment.bpmn")
    first, second = _waiting("ORDER-1"), _waiting("ORDER-2")
    target, started = message_correlate(name="PaymentReceived", business_key="ORDER-2",
                                        variables={"paid": 99.5}, now=NOW)
    assert not started and target.pk == second.pk
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.status == "completed" and first.status == "running"
    assert second.state["s"][0]["v"] == {"paid": 99.5}
    assert audit.verify_chain(instance_chain(second.pk)) == []


def test_message_correlated_by_correlation_variables(db):
    deploy("receive_payment.bpmn")
    first = _waiting("A", orderId=7)
    second = _waiting("B", orderId=8)
    target, _ = message_correlate(name="PaymentReceived", correlation={"orderId": 8}, now=NOW)
    assert target.pk == second.pk
    first.refresh_from_db()
    assert first.status == "running"


def test_a_message_matching_two_instances_is_ambiguous_and_changes_nothing(db):
    deploy("receive_payment.bpmn")
    _waiting("A")
    _waiting("B")
    with pytest.raises(MessageAmbiguous) as raised:
        message_correlate(name="PaymentReceived", now=NOW)
    assert raised.value.count == 2
    assert ProcessInstance.objects.filter(status="running").count() == 2


def test_a_message_nobody_waits_for_is_not_correlated(db):
    deploy("receive_payment.bpmn")
    _waiting("A")
    with pytest.raises(MessageNotCorrelated):
        message_correlate(name="PaymentReceived", business_key="ZZZ", now=NOW)
    with pytest.raises(MessageNotCorrelated):
        message_correlate(name="Unknown", now=NOW)


def test_a_suspended_instance_is_not_a_message_target(db):
    deploy("receive_payment.bpmn")
    instance = _waiting("A")
    process_instance_suspend(instance_id=instance.pk, actor=None, now=NOW)
    with pytest.raises(MessageNotCorrelated):
        message_correlate(name="PaymentReceived", business_key="A", now=NOW)


def test_a_message_start_event_starts_an_instance_when_no_instance_waits(db):
    definition = deploy("message_start.bpmn")
    assert EventSubscription.objects.filter(definition=definition, instance=None).count() == 1
    instance, started = message_correlate(name="OrderPlaced", business_key="O-9",
                                          variables={"items": 3}, now=NOW)
    assert started
    assert instance.definition_id == definition.pk and instance.business_key == "O-9"
    assert open_task(instance.pk, "Pack")
    assert instance.state["s"][0]["v"] == {"items": 3}


def test_a_new_version_moves_the_message_start_event_to_itself(db):
    from engine.services.deployments import deployment_create
    from tests.engine._instances import FIXTURES

    deploy("message_start.bpmn")
    data = (FIXTURES / "message_start.bpmn").read_bytes().replace(b"Pack the order", b"Pack")
    deployment_create(files=[("message_start.bpmn", data)], actor=None)
    (start,) = EventSubscription.objects.filter(instance=None)
    assert start.definition is not None and start.definition.version == 2
    instance, _ = message_correlate(name="OrderPlaced", now=NOW)
    assert instance.definition.version == 2


def test_a_signal_reaches_every_waiting_instance(db):
    deploy("signal_wait.bpmn")
    deploy("approval.bpmn")
    one, _ = process_instance_start(key="signal_wait", now=NOW)
    two, _ = process_instance_start(key="signal_wait", now=NOW)
    bystander, _ = process_instance_start(key="approval", variables={"requester": "x"}, now=NOW)
    assert signal_throw(name="Alert", variables={"level": 2}, now=NOW) == 2
    for instance in (one, two):
        instance.refresh_from_db()
        assert instance.status == "completed"
        assert instance.state["s"][0]["v"] == {"level": 2}
    bystander.refresh_from_db()
    assert bystander.status == "running"
    assert signal_throw(name="Alert", now=NOW) == 0


def test_a_signal_thrown_by_an_instance_is_delivered_in_the_same_transaction(db):
    deploy("signal_relay.bpmn")
    deploy("signal_wait.bpmn")
    relay, _ = process_instance_start(key="signal_relay", now=NOW)
    listener, _ = process_instance_start(key="signal_wait", now=NOW)
    assert signal_throw(name="Go", now=NOW) == 1
    relay.refresh_from_db()
    listener.refresh_from_db()
    assert relay.status == "completed"
    assert listener.status == "completed"
    assert audit.verify_chain(instance_chain(listener.pk)) == []


def test_two_instances_signalling_each_other_forever_are_stopped_by_the_depth_limit(db):
    from engine.services.messages import DeliveryTooDeep

    deploy("signal_ping_loop.bpmn")
    deploy("signal_pong_loop.bpmn")
    ping, _ = process_instance_start(key="signal_ping_loop", now=NOW)
    process_instance_start(key="signal_pong_loop", now=NOW)
    revision = ping.revision
    with pytest.raises(DeliveryTooDeep):
        signal_throw(name="Ping", now=NOW)
    ping.refresh_from_db()
    assert ping.revision == revision  # the whole broadcast rolled back


def test_a_signal_start_event_starts_an_instance_per_broadcast(db):
    deploy("signal_start.bpmn")
    deploy("signal_wait.bpmn")
    waiting, _ = process_instance_start(key="signal_wait", now=NOW)
    assert signal_throw(name="Alert", variables={"level": 3}, now=NOW) == 2
    started = ProcessInstance.objects.get(definition__key="signal_start")
    assert open_task(started.pk, "Investigate")
    assert started.state["s"][0]["v"] == {"level": 3}
    waiting.refresh_from_db()
    assert waiting.status == "completed"


def test_a_message_thrown_by_an_instance_reaches_the_waiting_receive_task(db):
    deploy("receive_payment.bpmn")
    deploy("send_payment.bpmn")
    receiver = _waiting("R-1")
    sender, _ = process_instance_start(key="send_payment", now=NOW)
    receiver.refresh_from_db()
    sender.refresh_from_db()
    assert sender.status == "completed" and receiver.status == "completed"


def test_a_thrown_message_nobody_waits_for_is_recorded_on_the_sender(db):
    from engine.models import AuditEvent

    deploy("send_payment.bpmn")
    sender, _ = process_instance_start(key="send_payment", now=NOW)
    sender.refresh_from_db()
    assert sender.status == "completed"
    assert AuditEvent.objects.filter(chain=instance_chain(sender.pk),
                                     kind="message undelivered").count() == 1
    assert audit.verify_chain(instance_chain(sender.pk)) == []
