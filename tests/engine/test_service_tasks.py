"""The @service_task registry: which name a task's handler is looked up by, and what is external."""

from __future__ import annotations

import pytest

from engine.service_tasks import (
    BpmnError,
    ServiceCall,
    candidate_names,
    clear_registry_for_tests,
    external_topic,
    find_handler,
    service_task,
)


def test_delegate_expressions_are_looked_up_by_their_bean_name():
    names = candidate_names({"implementation": "delegateExpression", "value": "${chargeCard}"},
                            "Charge")
    assert names == ["chargeCard", "${chargeCard}", "Charge"]


def test_classes_by_full_then_simple_name_and_expressions_by_bean():
    assert candidate_names({"implementation": "class", "value": "com.acme.ChargeCard"},
                           "Charge") == ["com.acme.ChargeCard", "ChargeCard", "Charge"]
    assert candidate_names({"implementation": "expression",
                            "value": "${billing.charge(execution, amount)}"}, "Charge")[-2:] == [
        "billing", "Charge"]


def test_zeebe_types_without_a_python_handler_are_external_tasks():
    payload = {"implementation": "job", "value": "ship-parcel", "topic": "ship-parcel"}
    assert external_topic("service", payload, "Ship") == "ship-parcel"

    @service_task("ship-parcel")
    def ship(call: ServiceCall) -> None:
        return None

    try:
        assert external_topic("service", payload, "Ship") is None
        assert find_handler(payload, "Ship") == ("ship-parcel", ship)
    finally:
        clear_registry_for_tests("ship-parcel")


def test_camunda_external_tasks_are_never_run_by_a_python_handler():
    payload = {"implementation": "external", "topic": "charge"}

    @service_task("charge")
    def charge(call: ServiceCall) -> None:
        return None

    try:
        assert find_handler(payload, "Charge") is None
        assert external_topic("service", payload, "Charge") == "charge"
    finally:
        clear_registry_for_tests("charge")
    assert external_topic("timer", payload, "Charge") is None


def test_two_different_handlers_cannot_share_a_name():
    @service_task("jobs-dup")
    def first(call: ServiceCall) -> None:
        return None

    try:
        with pytest.raises(ValueError, match="already registered"):
            @service_task("jobs-dup")
            def second(call: ServiceCall) -> None:
                return None
    finally:
        clear_registry_for_tests("jobs-dup")
    with pytest.raises(ValueError, match="non-empty"):
        service_task(" ")


def test_a_bpmn_error_carries_code_message_and_variables():
    error = BpmnError("CARD_DECLINED", "insufficient funds", {"reason": "funds"})
    assert (error.code, error.message, error.variables) == (
        "CARD_DECLINED", "insufficient funds", {"reason": "funds"})
    assert str(BpmnError("X")) == "X"
