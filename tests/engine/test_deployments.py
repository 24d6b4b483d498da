"""Deploying BPMN files: versions, duplicate filtering, refusal of broken files."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth import get_user_model

from engine.errors import DeploymentInvalid
from engine.models import Deployment, ProcessDefinition
from engine.selectors import process_definition_list
from engine.services.deployments import deployment_create

pytestmark = pytest.mark.django_db


def _row_counts() -> tuple[int, int]:
    return Deployment.objects.count(), ProcessDefinition.objects.count()


def test_deploying_a_valid_file_creates_version_1(bpmn):
    admin = get_user_model().objects.create_user("deployer")
    data = bpmn("minimal_process.bpmn")

    deployment = deployment_create(files=[("minimal.bpmn", data)], actor=admin, name="first")

    definition = ProcessDefinition.objects.get()
    assert (definition.key, definition.version, definition.name) == ("minimal", 1, "Minimal")
    assert definition.deployment == deployment and deployment.name == "first"
    assert definition.source_name == "minimal.bpmn"
    assert bytes(definition.bpmn_bytes) == data
    assert definition.checksum == hashlib.sha256(data).hexdigest()
    assert definition.deployed_by == admin and deployment.deployed_by == admin


def test_deploying_a_changed_file_creates_version_2(bpmn):
    deployment_create(files=[("minimal.bpmn", bpmn("minimal_process.bpmn"))], actor=None)

    deployment_create(files=[("minimal.bpmn", bpmn("minimal_process_renamed.bpmn"))], actor=None)

    versions = list(
        ProcessDefinition.objects.filter(key="minimal").order_by("version")
        .values_list("version", "name")
    )
    assert versions == [(1, "Minimal"), (2, "Minimal, renamed")]
    assert Deployment.objects.count() == 2


def test_redeploying_identical_bytes_creates_no_new_version(bpmn):
    data = bpmn("minimal_process.bpmn")
    first = deployment_create(files=[("minimal.bpmn", data)], actor=None)

    again = deployment_create(files=[("minimal.bpmn", data)], actor=None)

    assert again == first
    assert _row_counts() == (1, 1)
    assert ProcessDefinition.objects.get().version == 1


def test_redeploying_an_older_file_after_a_change_creates_a_new_version(bpmn):
    # Duplicate filtering compares with the newest version only, as Camunda does.
    deployment_create(files=[("m.bpmn", bpmn("minimal_process.bpmn"))], actor=None)
    deployment_create(files=[("m.bpmn", bpmn("minimal_process_renamed.bpmn"))], actor=None)

    deployment_create(files=[("m.bpmn", bpmn("minimal_process.bpmn"))], actor=None)

    assert ProcessDefinition.objects.filter(key="minimal").count() == 3


def test_invalid_file_is_refused_with_element_id_and_line_and_nothing_is_stored(bpmn):
    before = _row_counts()

    with pytest.raises(DeploymentInvalid) as refused:
        deployment_create(
            files=[("broken.bpmn", bpmn("flow_to_missing_target.bpmn"))], actor=None
        )

    assert _row_counts() == before
    (report,) = refused.value.diagnostics
    assert report.source == "broken.bpmn"
    errors = [d for d in report.diagnostics if d.is_error]
    assert errors, report
    # The dangling flow is on line 7 of the fixture.
    assert any(d.element_id == "Flow_Dangling" and d.line == 7 for d in errors), errors
    assert refused.value.code == "deployment.invalid" and refused.value.http_status == 400
    assert "broken.bpmn:7" in str(refused.value)


def test_one_invalid_file_refuses_the_whole_deployment(bpmn):
    before = _row_counts()

    with pytest.raises(DeploymentInvalid) as refused:
        deployment_create(
            files=[
                ("good.bpmn", bpmn("minimal_process.bpmn")),
                ("broken.bpmn", bpmn("flow_to_missing_target.bpmn")),
            ],
            actor=None,
        )

    assert _row_counts() == before
    by_source = {report.source: report for report in refused.value.diagnostics}
    assert set(by_source) == {"good.bpmn", "broken.bpmn"}
    assert not by_source["good.bpmn"].has_errors and by_source["broken.bpmn"].has_errors


def test_malformed_xml_is_refused_with_its_line():
    data = b'<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="x">\n  <oops>\n'

    with pytest.raises(DeploymentInvalid) as refused:
        deployment_create(files=[("truncated.bpmn", data)], actor=None)

    errors = [d for d in refused.value.diagnostics[0].diagnostics if d.is_error]
    assert errors and all(d.line is not None for d in errors)
    assert _row_counts() == (0, 0)


def test_file_without_executable_process_is_refused(bpmn):
    with pytest.raises(DeploymentInvalid) as refused:
        deployment_create(files=[("sketch.bpmn", bpmn("not_executable.bpmn"))], actor=None)

    codes = [d.code for d in refused.value.diagnostics[0].diagnostics]
    assert "deployment.nothing-executable" in codes
    assert _row_counts() == (0, 0)


def test_two_files_defining_the_same_process_key_are_refused(bpmn):
    with pytest.raises(DeploymentInvalid) as refused:
        deployment_create(
            files=[
                ("a.bpmn", bpmn("minimal_process.bpmn")),
                ("b.bpmn", bpmn("minimal_process_renamed.bpmn")),
            ],
            actor=None,
        )

    (duplicate,) = [
        d for f in refused.value.diagnostics for d in f.diagnostics
        if d.code == "deployment.duplicate-key"
    ]
    assert duplicate.element_id == "minimal" and "a.bpmn" in duplicate.message
    assert _row_counts() == (0, 0)


def test_empty_deployment_is_refused():
    with pytest.raises(DeploymentInvalid):
        deployment_create(files=[], actor=None)


def test_every_executable_process_in_a_file_becomes_a_definition(bpmn):
    deployment = deployment_create(files=[("two.bpmn", bpmn("two_processes.bpmn"))], actor=None)

    keys = sorted(deployment.process_definitions.values_list("key", "version"))
    assert keys == [("first", 1), ("second", 1)]


def test_utf16_file_is_stored_byte_for_byte(bpmn):
    text = bpmn("minimal_process.bpmn").decode("utf-8")
    text = text.replace('encoding="UTF-8"', 'encoding="UTF-16"')
    data = text.encode("utf-16")  # with a BOM, as Windows tools write it

    deployment_create(files=[("windows.bpmn", data)], actor=None)

    definition = ProcessDefinition.objects.get()
    assert bytes(definition.bpmn_bytes) == data
    assert definition.key == "minimal"


def test_latin1_file_keeps_its_process_name(bpmn):
    text = bpmn("minimal_process.bpmn").decode("utf-8")
    text = text.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').replace(
        'name="Minimal"', 'name="Prüfung größerer Beträge"'
    )
    data = text.encode("iso-8859-1")

    deployment_create(files=[("latin1.bpmn", data)], actor=None)

    definition = ProcessDefinition.objects.get()
    assert definition.name == "Prüfung größerer Beträge"
    assert bytes(definition.bpmn_bytes) == data


def test_definition_list_shows_only_the_newest_version_of_each_key(bpmn):
    deployment_create(files=[("m.bpmn", bpmn("minimal_process.bpmn"))], actor=None)
    deployment_create(files=[("m.bpmn", bpmn("minimal_process_renamed.bpmn"))], actor=None)
    deployment_create(files=[("two.bpmn", bpmn("two_processes.bpmn"))], actor=None)

    latest = [(d.key, d.version) for d in process_definition_list(latest_only=True)]
    every = [(d.key, d.version) for d in process_definition_list(latest_only=False)]

    assert sorted(latest) == [("first", 1), ("minimal", 2), ("second", 1)]
    assert sorted(every) == [("first", 1), ("minimal", 1), ("minimal", 2), ("second", 1)]
