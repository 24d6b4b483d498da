"""An admin in Chromium: a broken model shows its line, the fixed one previews and deploys,
an instance started from the page shows its token on the diagram; usable at 360 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from engine.models import Incident, Job, ProcessDefinition, ProcessInstance
from tasks_portal.roles import PROCESS_ADMIN
from tests.e2e.shots import SCREENSHOTS

FIXTURES = Path(__file__).parents[1] / "portal" / "fixtures"
KEY = "expense_review"


def make_user(name: str, role: str) -> User:
    user = User.objects.create_user(name, password=f"pw-{name}-123")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def drop_file(page: Any, selector: str, name: str, data: bytes) -> None:
    """Drop a file on `selector` the way a browser does after a drag from the desktop,
    once the page's script listens for drops (the element exists before the script runs)."""
    page.wait_for_selector(f"{selector}[data-ready=true]")
    transfer = page.evaluate_handle(
        """([name, text]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], name, {type: "application/xml"}));
            return transfer;
        }""",
        [name, data.decode("utf-8")],
    )
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def wait_for_diagram(page: Any) -> None:
    page.wait_for_selector("figure.fd-diagram[data-state=ready]")


def no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


@pytest.mark.django_db(transaction=True)
def test_admin_fixes_a_broken_model_deploys_it_starts_an_instance_and_sees_its_token(
    page: Any, login: Any,
) -> None:
    make_user("ada", PROCESS_ADMIN)
    login(page, "ada", "pw-ada-123")
    page.get_by_role("link", name="Process admin").click()
    page.get_by_role("link", name="Upload a model").first.click()

    # Drag and drop the broken file: the page checks it at once and shows the line.
    drop_file(page, "#dropzone", "review.bpmn", (FIXTURES / "admin_review_broken.bpmn").read_bytes())
    page.wait_for_selector("#diagnostics-title")
    error_row = page.locator("table.fd-diagnostics tr.fd-error")
    assert error_row.locator("td.fd-line").inner_text() == "17"
    assert "Flow_2" in error_row.inner_text()
    assert "'Finish' is not an element" in error_row.inner_text()
    assert "targetRef=\"Finish\"" in page.locator("pre.fd-source .fd-here").first.inner_text()
    assert ProcessDefinition.objects.count() == 0

    # The fixed file through the plain file input and the keyboard: check, then preview.
    page.set_input_files("#upload-file", str(FIXTURES / "admin_review.bpmn"))
    page.focus("#check-button")
    page.keyboard.press("Enter")
    page.wait_for_selector("#preview-title")
    wait_for_diagram(page)
    assert page.locator(".fd-planned").inner_text().startswith("Expense review")
    assert page.locator(".fd-diagram .djs-element[data-element-id=Review]").count() == 1
    assert page.locator(".bjs-powered-by").is_visible()  # the bpmn.io watermark stays
    assert ProcessDefinition.objects.count() == 0

    page.get_by_role("button", name="Deploy", exact=True).first.click()
    page.wait_for_url(f"**/manage/processes/{KEY}/?version=1")
    assert "Deployed expense_review version 1." in page.locator(".messages").inner_text()
    wait_for_diagram(page)

    page.get_by_label("Business key (optional)").fill("EXP-42")
    page.get_by_label("Variables (a JSON object, optional)").fill('{"amount": 120}')
    page.get_by_role("button", name="Start instance").click()
    page.wait_for_url("**/manage/instances/*/")
    instance = ProcessInstance.objects.get()
    assert instance.business_key == "EXP-42"
    wait_for_diagram(page)
    review = page.locator(".djs-element[data-element-id=Review]")
    assert "fd-active" in (review.get_attribute("class") or "")
    badge = page.locator(".djs-overlay-container [data-container-id=Review] .fd-badge-waiting")
    assert badge.inner_text() == "1"
    assert "amount" in page.locator("table.fd-variables").inner_text()

    # The definition's diagram counts tokens over every instance; clicking an element
    # lists its instances. Two more instances, one of them completed, for the picture.
    from engine.models import UserTask
    from engine.services.instances import process_instance_start
    from engine.services.user_tasks import user_task_complete

    definition = ProcessDefinition.objects.get()
    for business_key in ("EXP-43", "EXP-44"):
        process_instance_start(definition_id=definition.pk, business_key=business_key)
    done = ProcessInstance.objects.get(business_key="EXP-44")
    user_task_complete(task_id=UserTask.objects.get(instance=done).pk, actor=None)
    page.goto(f"/manage/processes/{KEY}/")
    wait_for_diagram(page)
    heat = page.locator(".djs-overlay-container [data-container-id=Review] .fd-badge-waiting")
    assert heat.inner_text() == "2"
    ended = page.locator(".djs-overlay-container [data-container-id=End] .fd-badge-passed")
    assert ended.inner_text() == "1"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1200, "height": 900})
    page.screenshot(path=str(SCREENSHOTS / "admin-diagram.png"), full_page=True)
    page.locator(".djs-element[data-element-id=Review]").click()
    page.wait_for_url(f"**/manage/processes/{KEY}/v1/elements/Review/")
    assert f"#{instance.pk}" in page.locator("section", has=page.locator("#waiting-title")
                                             ).inner_text()


@pytest.mark.django_db(transaction=True)
def test_admin_pages_stay_usable_at_360_px(page: Any, login: Any) -> None:
    from engine.services.deployments import deployment_create
    from engine.services.instances import process_instance_start

    admin = make_user("ada", PROCESS_ADMIN)
    deployment = deployment_create(files=[("r.bpmn", (FIXTURES / "admin_review.bpmn").read_bytes())],
                                   actor=admin)
    instance, _ = process_instance_start(definition_id=deployment.process_definitions.get().pk,
                                         business_key="NARROW-1", actor=admin)
    now = timezone.now()
    job = Job.objects.create(instance=instance, job_id=900, kind="service", element_id="Review",
                             due_at=now, retries_left=0, created_at=now)
    Incident.objects.create(instance=instance, element_id="Review", job=job,
                            message="card declined", created_at=now)
    page.set_viewport_size({"width": 360, "height": 740})
    login(page, "ada", "pw-ada-123")
    for url in ("/manage/processes/", "/manage/deploy/", f"/manage/processes/{KEY}/",
                f"/manage/instances/{instance.pk}/"):
        page.goto(url)
        if "processes/" + KEY in url or "instances" in url:
            wait_for_diagram(page)
        assert no_sideways_scroll(page), url
    # The instance page's actions are labelled on a phone, and reachable with Tab alone.
    assert page.get_by_label("Reason for cancelling").is_visible()
    assert page.locator(".djs-element[data-element-id=Review].fd-incident").count() == 1
    assert page.get_by_role("button", name="Retry").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "admin-instance-360.png"), full_page=True)
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Suspend":
            break
    else:
        pytest.fail("Tab never reached the Suspend button")
    page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    assert "Instance suspended." in page.locator(".messages").inner_text()
    instance.refresh_from_db()
    assert instance.status == "suspended"
