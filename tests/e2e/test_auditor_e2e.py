"""An auditor in Chromium finds an instance's history, reads its timeline and exports it."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from engine.models import AuditEvent
from engine.services.deployments import deployment_create
from engine.services.instances import process_instance_set_variables, process_instance_start
from tasks_portal.roles import AUDITOR, PROCESS_ADMIN
from tests.e2e.shots import SCREENSHOTS

FIXTURES = Path(__file__).parents[1] / "portal" / "fixtures"


def make_user(name: str, role: str) -> User:
    user = User.objects.create_user(name, password=f"pw-{name}-123")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.mark.django_db(transaction=True)
def test_auditor_finds_an_instances_history_and_exports_it_as_csv(
    page: Any, login: Any,
) -> None:
    admin = make_user("ada", PROCESS_ADMIN)
    make_user("otto", AUDITOR)
    deployment = deployment_create(
        files=[("review.bpmn", (FIXTURES / "admin_review.bpmn").read_bytes())], actor=admin)
    definition = deployment.process_definitions.get()
    instance, _ = process_instance_start(definition_id=definition.pk, business_key="EXP-42",
                                         variables={"amount": 120}, actor=admin)
    process_instance_start(definition_id=definition.pk, business_key="EXP-43", actor=admin)
    process_instance_set_variables(instance_id=instance.pk, variables={"amount": 95},
                                   actor=admin)

    login(page, "otto", "pw-otto-123")
    # Auditors see History, not the admin pages.
    assert page.get_by_role("link", name="Process admin").count() == 0
    page.get_by_role("link", name="History").click()
    page.get_by_label("Business key").fill("EXP-42")
    page.get_by_label("Business key").press("Enter")
    page.wait_for_url("**/audit/?*business_key=EXP-42*")
    results = page.locator("table.fd-history tbody tr")
    expected = AuditEvent.objects.filter(instance_id=instance.pk).count()
    assert results.count() == expected
    assert "EXP-43" not in page.locator("table.fd-history").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1200, "height": 900})
    page.screenshot(path=str(SCREENSHOTS / "audit-history.png"), full_page=True)

    # Export what was found: the downloaded CSV holds exactly these events.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("flowdesk-history-")
    text = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == expected
    assert {r["business_key"] for r in rows} == {"EXP-42"}
    assert {r["instance_id"] for r in rows} == {str(instance.pk)}
    assert rows[0]["kind"] == "process started" and rows[0]["actor"] == "ada"
    changes = [json.loads(r["data"])["value"] for r in rows
               if r["kind"] == "variable set" and json.loads(r["data"]).get("name") == "amount"]
    assert changes == [120, 95]

    # The instance's timeline: who did what, with the variable change old -> new.
    page.get_by_role("link", name=f"#{instance.pk}").first.click()
    page.wait_for_url(f"**/audit/instances/{instance.pk}/")
    change = page.locator(".fd-change").filter(has_text="amount").last
    assert change.locator("del").inner_text() == "120"
    assert change.locator("ins").inner_text() == "95"
    page.screenshot(path=str(SCREENSHOTS / "audit-timeline.png"), full_page=True)

    # The chain health page says the trail verifies.
    page.get_by_role("link", name="Chain health").click()
    assert "The chains verify" in page.locator("main").inner_text()

    # On a phone: no sideways scrolling (wide tables scroll inside their own box).
    page.set_viewport_size({"width": 360, "height": 740})
    for url in ("/audit/?business_key=EXP-42", f"/audit/instances/{instance.pk}/",
                "/audit/health/"):
        page.goto(url)
        assert page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"), url


@pytest.mark.django_db(transaction=True)
def test_auditor_is_refused_every_admin_action_in_the_browser(page: Any, login: Any) -> None:
    make_user("otto", AUDITOR)
    login(page, "otto", "pw-otto-123")
    response = page.goto("/manage/deploy/")
    assert response is not None and response.status == 403
    assert "process admin role" in page.get_by_role("alert").inner_text()
