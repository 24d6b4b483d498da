"""Approvers in a real browser: claim, fill the form (one invalid value first), complete;
a colleague's open inbox loses the claimed task live. Screenshots: see tests/e2e/shots.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection

from engine.models import UserTask
from engine.services.deployments import deployment_create
from engine.services.instances import process_instance_start
from tasks_portal.roles import APPROVER
from tests.e2e.shots import SCREENSHOTS as SHOTS

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "engine" / "demo" / "approval.bpmn"
REDIS_URL = os.environ.get("FLOWDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/3")
# A port of this checkout's range for the ASGI server the live test starts.
ASGI_PORT = int(os.environ.get("FLOWDESK_TEST_ASGI_PORT", "8301"))


def approver(name: str, *groups: str) -> Any:
    user = get_user_model().objects.create_user(name, password=f"pw-{name}-123")
    for group in (APPROVER, *groups):
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def review_tasks(count: int, actor: Any) -> list[UserTask]:
    """`count` instances of the demo approval process, each waiting at Task_Review."""
    definition = deployment_create(files=[("approval.bpmn", DEMO.read_bytes())],
                                   actor=None).process_definitions.get()
    tasks = []
    for number in range(count):
        instance, _ = process_instance_start(
            definition_id=definition.pk, business_key=f"PO-{1001 + number}", actor=actor,
            variables={"requester": "dora", "amount": 1200 + number})
        tasks.append(UserTask.objects.get(instance=instance, element_id="Task_Review"))
    return tasks


# Form controls without an accessible name (no <label>, aria-label or aria-labelledby).
UNLABELLED = """() => Array.from(document.querySelectorAll(
    "input:not([type=hidden]), select, textarea, button"))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
                && !el.getAttribute("aria-labelledby") && !(el.textContent || "").trim())
  .map(el => el.outerHTML.slice(0, 120))"""


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def fill_review_form_with_one_mistake_then_fix_and_complete(page: Any, task: UserTask) -> None:
    """On the task page of a claimed review task: -5 is refused next to Amount, 1500 is
    accepted and the task is completed."""
    page.get_by_label("Amount").fill("-5")
    page.get_by_label("Approve this request?").check()
    page.get_by_role("button", name="Complete").click()
    error = page.locator(".field.has-error .field-error")
    assert error.inner_text() == "Must be at least 0."
    # The error sits in the same field block as the Amount input.
    assert page.locator(".field.has-error input[name=amount]").count() == 1
    assert page.get_by_label("Approve this request?").is_checked()  # kept
    page.get_by_label("Amount").fill("1500")
    page.get_by_role("button", name="Complete").click()
    page.wait_for_url("**/tasks/")
    assert "Completed Review request." in page.content()
    task.refresh_from_db()
    assert task.status == "completed"


@pytest.mark.django_db(transaction=True)
def test_an_approver_claims_fills_the_form_sees_the_error_fixes_it_and_completes(
        page: Any, login: Any, live_server: Any) -> None:
    ann = approver("ann", "managers")
    tasks = review_tasks(3, actor=ann)
    login(page, "ann", "pw-ann-123")

    page.goto(f"{live_server.url}/tasks/?view=group")
    rows = page.locator("tr[data-task-id]")
    assert rows.count() == 3
    page.set_viewport_size({"width": 1280, "height": 800})
    shot(page, "inbox.png")

    # Keyboard only: open the first task from the list, claim it with Enter.
    page.locator(f'tr[data-task-id="{tasks[0].pk}"] a').focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/tasks/{tasks[0].pk}/")
    page.get_by_role("button", name="Claim").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "The task is yours now." in page.content()
    page.wait_for_selector("#diagram[data-diagram-ready=true]")
    assert page.locator("#diagram .fd-current").count() >= 1  # the current task is marked
    assert page.locator("#diagram .bjs-powered-by").count() == 1  # bpmn.io watermark kept
    page.get_by_label("Amount").fill("-5")
    page.get_by_role("button", name="Complete").click()
    page.wait_for_selector(".field-error")
    page.wait_for_selector("#diagram[data-diagram-ready=true]")
    shot(page, "task.png")
    page.get_by_label("Amount").fill("")

    fill_review_form_with_one_mistake_then_fix_and_complete(page, tasks[0])
    assert page.locator("tr[data-task-id]").count() == 0  # "My tasks" is empty again


@pytest.mark.django_db(transaction=True)
def test_inbox_and_task_page_stay_usable_at_360_px(browser: Any, live_server: Any,
                                                   login: Any) -> None:
    ann = approver("ann", "managers")
    task = review_tasks(2, actor=ann)[0]
    context = browser.new_context(base_url=live_server.url,
                                  viewport={"width": 360, "height": 740})
    page = context.new_page()
    try:
        login(page, "ann", "pw-ann-123")
        page.goto(f"{live_server.url}/tasks/?view=group")
        # Nothing is wider than the screen: no sideways scrolling of the page.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert page.get_by_role("link", name="Review request").first.is_visible()
        assert page.get_by_role("button", name="Claim selected").is_visible()
        page.click("summary")  # open the filters: every control has a name
        assert page.evaluate(UNLABELLED) == []
        shot(page, "inbox-360.png")
        page.goto(f"{live_server.url}/tasks/{task.pk}/")
        with page.expect_navigation():
            page.get_by_role("button", name="Claim").click()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert page.get_by_role("button", name="Complete").is_visible()
        assert page.get_by_label("Amount").is_visible()
        assert page.evaluate(UNLABELLED) == []
        shot(page, "task-360.png")
    finally:
        context.close()


# --- live push: needs the ASGI server, so PostgreSQL and Redis ---------------------------


def _redis_reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379),
                                      timeout=1):
            return True
    except OSError:
        return False


needs_postgresql_for_asgi = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the live-push browser test runs the ASGI server (daphne) in a subprocess, which "
           "cannot share pytest's in-memory SQLite: it needs PostgreSQL (runs in the "
           "PostgreSQL pass of make test)")
needs_redis = pytest.mark.skipif(
    not _redis_reachable(REDIS_URL),
    reason=f"needs Redis at {REDIS_URL} (FLOWDESK_TEST_REDIS_URL) for the channel layer")


@pytest.fixture
def asgi_server(transactional_db: Any) -> Iterator[str]:
    """`manage.py runserver` (Daphne: HTTP, static files and WebSockets) on the test
    database and the Redis channel layer; yields its base URL."""
    database = settings.DATABASES["default"]
    url = (f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
           f"{database['PORT'] or 5432}/{database['NAME']}")
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "DEBUG": "1",
           "SECRET_KEY": settings.SECRET_KEY, "DJANGO_SETTINGS_MODULE": "config.settings"}
    (REPO / "var").mkdir(exist_ok=True)
    log = open(REPO / "var" / "e2e-asgi-server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{ASGI_PORT}", "--noreload"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{ASGI_PORT}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):  # noqa: S310
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the ASGI server did not start; see {log.name}") from None
                time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@needs_postgresql_for_asgi
@needs_redis
@pytest.mark.django_db(transaction=True)
def test_a_colleague_sees_the_claimed_task_disappear_live(
        browser: Any, asgi_server: str, settings: Any) -> None:
    # The server process checks passwords with the real hashers; make them here too.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    ann = approver("ann", "managers")
    approver("bob", "managers")
    tasks = review_tasks(2, actor=ann)
    contexts = [browser.new_context(base_url=asgi_server) for _ in range(2)]
    try:
        pages = [context.new_page() for context in contexts]
        for page, name in zip(pages, ("ann", "bob"), strict=True):
            page.set_default_timeout(15_000)
            page.goto(f"{asgi_server}/accounts/login/")
            page.fill("input[name=username]", name)
            page.fill("input[name=password]", f"pw-{name}-123")
            page.click("button[type=submit]")
            page.wait_for_url(f"{asgi_server}/")
            page.goto(f"{asgi_server}/tasks/?view=group")
            page.wait_for_function("document.documentElement.dataset.live === 'connected'")
        ann_page, bob_page = pages
        claimed = f'tr[data-task-id="{tasks[0].pk}"]'
        assert bob_page.locator(claimed).count() == 1

        ann_page.goto(f"{asgi_server}/tasks/{tasks[0].pk}/")
        with ann_page.expect_navigation():
            ann_page.get_by_role("button", name="Claim").click()

        # Bob did not reload: the push removed the row and said who took it.
        bob_page.wait_for_selector(claimed, state="detached", timeout=10_000)
        assert bob_page.locator(f'tr[data-task-id="{tasks[1].pk}"]').count() == 1
        status = bob_page.locator("#live-status").inner_text()
        assert "claimed by ann" in status and "PO-1001" in status

        fill_review_form_with_one_mistake_then_fix_and_complete(ann_page, tasks[0])
    finally:
        for context in contexts:
            context.close()
