"""Process admin pages: deploy with diagnostics or a preview, versions, the diagram heatmap,
an instance page with its actions; who may see and who may change (each role)."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from engine.models import (
    AuditEvent,
    Incident,
    Job,
    ProcessDefinition,
    ProcessInstance,
    UserTask,
)
from engine.selectors import definition_heatmap
from engine.services.deployments import deployment_create
from engine.services.instances import process_instance_start
from engine.services.user_tasks import user_task_complete
from tasks_portal.roles import PROCESS_ADMIN
from tests.portal._roles import client_as, role_user, role_users

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = (FIXTURES / "admin_review.bpmn").read_bytes()
BROKEN = (FIXTURES / "admin_review_broken.bpmn").read_bytes()
KEY = "expense_review"


@pytest.fixture
def users() -> dict[str, User]:
    return role_users()


@pytest.fixture
def admin(users: dict[str, User]) -> Client:
    return client_as(users, "admin")


def _deploy(data: bytes = GOOD, actor: User | None = None) -> ProcessDefinition:
    return deployment_create(files=[("review.bpmn", data)], actor=actor).process_definitions.get()


def _start(definition: ProcessDefinition, business_key: str | None = None,
           actor: User | None = None) -> ProcessInstance:
    instance, _ = process_instance_start(definition_id=definition.pk, business_key=business_key,
                                         actor=actor)
    return instance


def _upload(name: str, data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/xml")


def _counts() -> tuple[int, int, int]:
    return (ProcessDefinition.objects.count(), ProcessInstance.objects.count(),
            AuditEvent.objects.count())


# --- Who may see what --------------------------------------------------------------------


@pytest.fixture
def running(users: dict[str, User]) -> ProcessInstance:
    return _start(_deploy(actor=users["admin"]), "B-1", actor=users["admin"])


def _read_urls(instance: ProcessInstance) -> list[str]:
    return ["/manage/processes/", f"/manage/processes/{KEY}/",
            f"/manage/processes/{KEY}/v1.bpmn", f"/manage/processes/{KEY}/v1/elements/Review/",
            f"/manage/instances/{instance.pk}/"]


@pytest.mark.parametrize("role, status", [("admin", 200), ("auditor", 200),
                                          ("approver", 403), ("anonymous", 302)])
def test_read_pages_open_to_admins_and_auditors_only(
    users: dict, running: ProcessInstance, role: str, status: int,
) -> None:
    client = client_as(users, role)
    for url in _read_urls(running):
        response = client.get(url)
        assert response.status_code == status, url
        if status == 302:
            assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("role, status", [("admin", 200), ("auditor", 403),
                                          ("approver", 403), ("anonymous", 302)])
def test_the_upload_page_is_for_admins_only(users: dict, role: str, status: int) -> None:
    assert client_as(users, role).get("/manage/deploy/").status_code == status


def _write_requests(instance: ProcessInstance, incident: Incident) -> list[tuple[str, dict]]:
    base = f"/manage/instances/{instance.pk}"
    return [
        ("/manage/deploy/", {"action": "check", "file": _upload("r.bpmn", GOOD)}),
        ("/manage/deploy/", {"action": "deploy", "file": _upload("r.bpmn", GOOD + b" ")}),
        ("/manage/deploy/", {"action": "deploy", "staged_name": "r.bpmn",
                             "staged_data": base64.b64encode(GOOD + b"  ").decode()}),
        (f"/manage/processes/{KEY}/v1/start", {"business_key": "X"}),
        (f"{base}/suspend", {}), (f"{base}/resume", {}), (f"{base}/cancel", {"reason": "r"}),
        (f"{base}/variables", {"name": "amount", "value": "5"}),
        (f"/manage/incidents/{incident.pk}/retry", {}),
    ]


def _incident(instance: ProcessInstance) -> Incident:
    now = timezone.now()
    job = Job.objects.create(instance=instance, job_id=900, kind="service", element_id="Review",
                             due_at=now, retries_left=0, created_at=now)
    return Incident.objects.create(instance=instance, element_id="Review", job=job,
                                   message="card declined", created_at=now)


@pytest.mark.parametrize("role, status", [("auditor", 403), ("approver", 403),
                                          ("anonymous", 302)])
def test_every_write_url_refuses_everyone_but_admins_and_changes_nothing(
    users: dict, running: ProcessInstance, role: str, status: int,
) -> None:
    incident = _incident(running)
    client = client_as(users, role)
    before = _counts()
    for url, data in _write_requests(running, incident):
        assert client.post(url, data).status_code == status, url
    assert _counts() == before
    running.refresh_from_db()
    assert running.status == "running" and "amount" not in running.state["s"][0].get("v", {})
    incident.refresh_from_db()
    assert incident.resolved_at is None


def test_write_urls_refuse_get(admin: Client, running: ProcessInstance) -> None:
    incident = _incident(running)
    for url, _ in _write_requests(running, incident)[3:]:
        assert admin.get(url).status_code == 405, url


def test_auditors_see_no_buttons_on_the_pages_they_may_read(
    users: dict, running: ProcessInstance,
) -> None:
    client = client_as(users, "auditor")
    for url in _read_urls(running):
        if url.endswith(".bpmn"):
            continue
        body = client.get(url).content.decode()
        assert 'method="post" action="/manage/' not in body, url
        assert "/manage/deploy/" not in body, url


# --- Upload: diagnostics, check (preview), deploy ---------------------------------------


def test_a_broken_model_shows_line_element_and_message_and_stores_nothing(
    admin: Client,
) -> None:
    for action in ("check", "deploy"):
        response = admin.post("/manage/deploy/", {"action": action,
                                                  "file": _upload("review.bpmn", BROKEN)})
        assert response.status_code == 400
        body = response.content.decode()
        row = re.search(r'<tr class="fd-error">(.*?)</tr>', body, re.S)
        assert row is not None
        assert '<td class="num fd-line">17</td>' in row.group(1)
        assert "<code>Flow_2</code>" in row.group(1)
        assert "sequence flow target &#x27;Finish&#x27; is not an element" in row.group(1)
        # The offending source line is shown, marked.
        assert re.search(r'<span class="fd-here">\s+17\s.*targetRef=&quot;Finish', body)
        assert _counts() == (0, 0, 0)


def test_a_file_that_is_not_xml_is_refused_with_a_line(admin: Client) -> None:
    response = admin.post("/manage/deploy/", {"action": "check",
                                              "file": _upload("notes.bpmn", b"<a>\n<b></a>")})
    assert response.status_code == 400
    body = response.content.decode()
    assert "notes.bpmn" in body and '<td class="num fd-line">2</td>' in body


def test_no_file_is_a_clear_error(admin: Client) -> None:
    response = admin.post("/manage/deploy/", {"action": "check"})
    assert response.status_code == 400 and "Choose at least one .bpmn file" in response.content.decode()


def test_check_previews_the_diagram_and_the_new_version_and_stores_nothing(
    admin: Client, users: dict,
) -> None:
    _deploy(actor=users["admin"])
    before = _counts()
    changed = GOOD.replace(b'name="Review expense"', b'name="Review the expense"')
    response = admin.post("/manage/deploy/", {"action": "check",
                                              "file": _upload("review-2.bpmn", changed)})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Check passed" in body
    assert "version 2, from <code>review-2.bpmn</code>" in body
    # The preview diagram gets the XML itself, and the deploy button carries the file.
    assert 'id="preview-xml-1"' in body and "Review the expense" in body
    staged = re.search(r'name="staged_data" value="([^"]+)"', body)
    assert staged is not None and base64.b64decode(staged.group(1)) == changed
    assert _counts() == before
    assert ProcessDefinition.objects.get().version == 1


def test_check_of_unchanged_files_says_nothing_is_new(admin: Client, users: dict) -> None:
    _deploy(actor=users["admin"])
    body = admin.post("/manage/deploy/", {"action": "check",
                                          "file": _upload("r.bpmn", GOOD)}).content.decode()
    assert "No new process version" in body


def test_deploying_the_checked_files_stores_a_version_by_the_admin(
    admin: Client, users: dict,
) -> None:
    response = admin.post("/manage/deploy/", {
        "action": "deploy", "staged_name": "review.bpmn",
        "staged_data": base64.b64encode(GOOD).decode(), "name": "first cut"})
    definition = ProcessDefinition.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/manage/processes/{KEY}/?version=1"
    assert bytes(definition.bpmn_bytes) == GOOD and definition.deployed_by == users["admin"]
    assert definition.deployment.name == "first cut"
    deployed = AuditEvent.objects.get(kind="deployed")
    assert deployed.actor == "ada" and deployed.data["version"] == 1


def test_damaged_staged_data_is_refused(admin: Client) -> None:
    response = admin.post("/manage/deploy/", {"action": "deploy", "staged_name": "r.bpmn",
                                              "staged_data": "%%%not base64"})
    assert response.status_code == 400 and "damaged" in response.content.decode()
    assert _counts() == (0, 0, 0)


def test_redeploying_the_same_bytes_makes_no_version(admin: Client, users: dict) -> None:
    _deploy(actor=users["admin"])
    response = admin.post("/manage/deploy/", {"action": "deploy",
                                              "file": _upload("r.bpmn", GOOD)}, follow=True)
    assert "Nothing new" in response.content.decode()
    assert ProcessDefinition.objects.count() == 1


# --- Versions and downloads --------------------------------------------------------------


def test_versions_say_who_deployed_what_when_and_each_downloads_its_own_xml(
    admin: Client, users: dict,
) -> None:
    bob = role_user("bob", PROCESS_ADMIN)
    _deploy(actor=users["admin"])
    second = GOOD.replace(b"Expense filed", b"Expense submitted")
    _deploy(second, actor=bob)
    body = admin.get(f"/manage/processes/{KEY}/").content.decode()
    assert "version 2" in body
    rows = re.findall(r"<tr[^>]*>\s*<td class=\"num\"><a [^>]*>(\d)</a></td>\s*<td>(\w+)</td>", body)
    assert rows == [("2", "bob"), ("1", "ada")]
    for version, data in ((1, GOOD), (2, second)):
        response = admin.get(f"/manage/processes/{KEY}/v{version}.bpmn?download=1")
        assert response.content == data
        assert response["Content-Disposition"] == (
            f'attachment; filename="{KEY}-v{version}.bpmn"')
    assert admin.get(f"/manage/processes/{KEY}/v3.bpmn").status_code == 404


def test_a_model_is_never_rendered_by_the_browser_on_our_origin(
    admin: Client, users: dict,
) -> None:
    """Uploaded XML may hold XHTML script: it is served as a sandboxed download."""
    _deploy(actor=users["admin"])
    response = admin.get(f"/manage/processes/{KEY}/v1.bpmn")
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert admin.get("/manage/processes/nope/").status_code == 404


# --- The heatmap ------------------------------------------------------------------------


def test_heatmap_counts_tokens_waiting_now_passes_and_open_incidents(users: dict) -> None:
    definition = _deploy(actor=users["admin"])
    instances = [_start(definition, f"B-{n}") for n in range(3)]
    task = UserTask.objects.get(instance=instances[0])
    user_task_complete(task_id=task.pk, actor=None)
    _incident(instances[1])
    counts = definition_heatmap(definition_id=definition.pk)
    assert counts == {
        "Start": {"waiting": 0, "passed": 3, "incidents": 0},
        "Review": {"waiting": 2, "passed": 1, "incidents": 1},
        "End": {"waiting": 0, "passed": 1, "incidents": 0},
    }


def test_heatmap_query_count_does_not_grow_with_the_instances(
    users: dict, django_assert_max_num_queries: Any,
) -> None:
    definition = _deploy(actor=users["admin"])
    for n in range(12):
        _start(definition, f"B-{n}")
    with django_assert_max_num_queries(3):
        counts = definition_heatmap(definition_id=definition.pk)
    assert counts["Review"]["waiting"] == 12


def test_definition_page_carries_the_counts_for_the_diagram(
    admin: Client, users: dict,
) -> None:
    definition = _deploy(actor=users["admin"])
    _start(definition)
    _start(definition)
    body = admin.get(f"/manage/processes/{KEY}/").content.decode()
    assert 'id="heatmap-data"' in body
    assert '"Review": {"waiting": 2, "passed": 0, "incidents": 0}' in body
    assert f'data-xml-url="/manage/processes/{KEY}/v1.bpmn"' in body
    assert f'data-element-url="/manage/processes/{KEY}/v1/elements/ELEMENT/"' in body
    assert "bpmn-navigated-viewer.production.min.js" in body


def test_element_page_lists_instances_waiting_there_and_those_that_passed(
    admin: Client, users: dict,
) -> None:
    definition = _deploy(actor=users["admin"])
    done, waiting = _start(definition, "done-1"), _start(definition, "wait-1")
    user_task_complete(task_id=UserTask.objects.get(instance=done).pk, actor=None)
    body = admin.get(f"/manage/processes/{KEY}/v1/elements/Review/").content.decode()
    waiting_part, passed_part = body.split('id="passed-title"')
    assert f"/manage/instances/{waiting.pk}/" in waiting_part
    assert f"/manage/instances/{done.pk}/" not in waiting_part
    assert f"/manage/instances/{done.pk}/" in passed_part
    assert f"/manage/instances/{waiting.pk}/" not in passed_part


# --- Starting and acting on instances ---------------------------------------------------


def test_admin_starts_an_instance_from_the_page(admin: Client, users: dict) -> None:
    _deploy(actor=users["admin"])
    response = admin.post(f"/manage/processes/{KEY}/v1/start",
                          {"business_key": "INV-7", "variables": '{"amount": 120}'})
    instance = ProcessInstance.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/manage/instances/{instance.pk}/"
    assert instance.business_key == "INV-7" and instance.started_by == users["admin"]
    assert instance.state["s"][0]["v"] == {"amount": 120}


@pytest.mark.parametrize("variables, message", [
    ("{amount: 1}", "Variables is not valid JSON"), ("[1, 2]", "must be a JSON object")])
def test_bad_start_variables_are_explained_and_start_nothing(
    admin: Client, users: dict, variables: str, message: str,
) -> None:
    _deploy(actor=users["admin"])
    response = admin.post(f"/manage/processes/{KEY}/v1/start", {"variables": variables},
                          follow=True)
    assert message in response.content.decode()
    assert ProcessInstance.objects.count() == 0


def test_instance_page_shows_diagram_variables_tasks_jobs_incidents_and_history(
    admin: Client, running: ProcessInstance,
) -> None:
    _incident(running)
    body = admin.get(f"/manage/instances/{running.pk}/").content.decode()
    assert '<script id="active-data" type="application/json">["Review"]</script>' in body
    assert '<script id="incident-data" type="application/json">["Review"]</script>' in body
    assert "Review expense" in body  # the open task
    assert "card declined" in body and "service" in body  # incident and its job
    assert "process started" in body and "B-1" in body  # the timeline
    assert f'action="/manage/instances/{running.pk}/suspend"' in body
    assert f'action="/manage/instances/{running.pk}/variables"' in body


def test_admin_sets_a_variable_and_the_change_is_audited_with_their_name(
    admin: Client, running: ProcessInstance,
) -> None:
    response = admin.post(f"/manage/instances/{running.pk}/variables",
                          {"name": "amount", "value": '{"net": 10.5}'}, follow=True)
    assert "Variable &#x27;amount&#x27; set." in response.content.decode()
    running.refresh_from_db()
    assert running.state["s"][0]["v"]["amount"] == {"net": 10.5}
    event = AuditEvent.objects.filter(instance_id=running.pk, kind="variable set").last()
    assert event is not None and event.actor == "ada"
    assert event.data["name"] == "amount" and event.data["value"] == {"net": 10.5}


def test_a_variable_value_that_is_not_json_changes_nothing(
    admin: Client, running: ProcessInstance,
) -> None:
    before = AuditEvent.objects.count()
    response = admin.post(f"/manage/instances/{running.pk}/variables",
                          {"name": "note", "value": "approved"}, follow=True)
    assert "is not valid JSON" in response.content.decode()
    assert AuditEvent.objects.count() == before


def test_suspend_resume_cancel_from_the_instance_page(
    admin: Client, running: ProcessInstance,
) -> None:
    base = f"/manage/instances/{running.pk}"
    admin.post(f"{base}/suspend")
    running.refresh_from_db()
    assert running.status == "suspended"
    body = admin.get(f"{base}/").content.decode()
    assert f'action="{base}/resume"' in body and f'action="{base}/suspend"' not in body
    admin.post(f"{base}/resume")
    running.refresh_from_db()
    assert running.status == "running"
    admin.post(f"{base}/cancel", {"reason": "duplicate request"})
    running.refresh_from_db()
    assert running.status == "cancelled"
    kinds = list(AuditEvent.objects.filter(instance_id=running.pk, actor="ada")
                 .values_list("kind", flat=True))
    assert "suspended" in kinds and "resumed" in kinds and "process cancelled" in kinds
    # An ended instance offers no actions; acting anyway is a clear error.
    assert f'action="{base}/cancel"' not in admin.get(f"{base}/").content.decode()
    response = admin.post(f"{base}/suspend", follow=True)
    assert "cannot go from &#x27;cancelled&#x27;" in response.content.decode()


def test_an_unknown_instance_is_404(admin: Client) -> None:
    assert admin.get("/manage/instances/999999/").status_code == 404
    assert admin.post("/manage/incidents/999999/retry").status_code == 404


def test_admin_retries_an_incident_and_its_job_is_due_again(
    admin: Client, running: ProcessInstance,
) -> None:
    pytest.importorskip("engine.services.incidents",
                        reason="incident_retry comes with the jobs issue (engineer JOBS)")
    incident = _incident(running)
    body = admin.get(f"/manage/instances/{running.pk}/").content.decode()
    assert f'action="/manage/incidents/{incident.pk}/retry"' in body
    response = admin.post(f"/manage/incidents/{incident.pk}/retry", follow=True)
    assert "Incident retried" in response.content.decode()
    incident.refresh_from_db()
    assert incident.resolved_at is not None
    assert Job.objects.get(pk=incident.job_id).retries_left >= 1
    again = admin.post(f"/manage/incidents/{incident.pk}/retry", follow=True)
    assert f"incident {incident.pk} was resolved at" in again.content.decode()


def test_instance_page_shows_the_newest_events_and_links_the_full_history(
    admin: Client, running: ProcessInstance, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tasks_portal import admin_views

    monkeypatch.setattr(admin_views, "TIMELINE_ON_PAGE", 2)
    admin.post(f"/manage/instances/{running.pk}/suspend")
    body = admin.get(f"/manage/instances/{running.pk}/").content.decode()
    total = AuditEvent.objects.filter(instance_id=running.pk).count()
    assert f"The last 2 of {total} events" in body
    timeline = body[body.index('id="history-title"'):]
    assert timeline.count('<li class="fd-event') == 2
    assert "suspended" in timeline and "process started" not in timeline


def test_a_model_and_its_form_file_check_and_deploy_together(
    admin: Client, users: dict,
) -> None:
    from engine.selectors import deployed_form_get

    form = (FIXTURES / "admin_review.form").read_bytes()
    files = {"file": [_upload("review.bpmn", GOOD), _upload("review.form", form)]}
    body = admin.post("/manage/deploy/", {"action": "check", **files}).content.decode()
    assert "Forms deployed with them: <code>review.form</code>" in body
    assert body.count('class="fd-diagram"') == 1  # a diagram for the model only
    assert _counts() == (0, 0, 0)
    files = {"file": [_upload("review.bpmn", GOOD), _upload("review.form", form)]}
    admin.post("/manage/deploy/", {"action": "deploy", **files})
    definition = ProcessDefinition.objects.get()
    found = deployed_form_get(form_id="expense-review-form", definition=definition)
    assert found is not None and found["components"][0]["key"] == "comment"


def test_a_broken_form_file_is_reported_with_the_models_and_nothing_is_stored(
    admin: Client,
) -> None:
    files = {"file": [_upload("review.bpmn", GOOD), _upload("review.form", b'{"id": 1}')]}
    response = admin.post("/manage/deploy/", {"action": "deploy", **files})
    assert response.status_code == 400
    body = response.content.decode()
    assert "<h3><code>review.form</code></h3>" in body and 'class="fd-error"' in body
    assert _counts() == (0, 0, 0)


def test_definition_page_lists_its_newest_live_instances(admin: Client, users: dict) -> None:
    definition = _deploy(actor=users["admin"])
    live, done = _start(definition, "LIVE-1"), _start(definition, "DONE-1")
    user_task_complete(task_id=UserTask.objects.get(instance=done).pk, actor=None)
    body = admin.get(f"/manage/processes/{KEY}/").content.decode()
    recent = body[body.index('id="recent-title"'):body.index('id="versions-title"')]
    assert f"/manage/instances/{live.pk}/" in recent and "LIVE-1" in recent
    assert "DONE-1" not in recent
