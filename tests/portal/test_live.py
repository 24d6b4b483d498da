"""Live inbox: task events reach exactly the WebSockets of users who can see the task,
through a real Redis channel layer, and only after the change committed."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client

import tasks_portal.live  # noqa: F401  (connects the receivers, as apps.ready() does)
from engine.models import UserTask
from engine.services.instances import process_instance_cancel
from engine.services.user_tasks import user_task_claim, user_task_complete
from tasks_portal.consumers import InboxConsumer
from tasks_portal.live import task_audience
from tasks_portal.roles import PROCESS_ADMIN
from tests.portal.test_forms import start_task

# Redis database 3 is this checkout's; CI may point the tests at another one.
REDIS_URL = os.environ.get("FLOWDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/3")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def redis_layer(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": "flowdesk-test"},
    }}
    assert type(get_channel_layer()).__name__ == "RedisChannelLayer"


def _people() -> dict[str, Any]:
    users = get_user_model().objects
    managers = Group.objects.create(name="managers")
    admins, _ = Group.objects.get_or_create(name=PROCESS_ADMIN)
    people = {name: users.create_user(name, password=f"pw-{name}-123")
              for name in ("ann", "bob", "eve", "root")}
    people["ann"].groups.add(managers)
    people["bob"].groups.add(managers)
    people["root"].groups.add(admins)
    return people


@pytest_asyncio.fixture
async def people() -> dict[str, Any]:
    return await database_sync_to_async(_people)()


@pytest_asyncio.fixture
async def sockets(people: dict[str, Any]) -> AsyncIterator[dict[str, WebsocketCommunicator]]:
    opened: dict[str, WebsocketCommunicator] = {}
    for name, user in people.items():
        communicator = WebsocketCommunicator(InboxConsumer.as_asgi(), "/ws/tasks/")
        communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected, name
        opened[name] = communicator
    yield opened
    for communicator in opened.values():
        await communicator.disconnect()


async def _events(communicator: WebsocketCommunicator) -> list[dict[str, Any]]:
    """Every event that reaches `communicator` within a short while."""
    received = []
    while not await communicator.receive_nothing(timeout=0.3):
        received.append(await communicator.receive_json_from())
    return received


async def _start() -> UserTask:
    return await database_sync_to_async(start_task)("forms_decision.bpmn",
                                                     business_key="PO-7")


async def test_a_new_task_is_announced_to_its_group_and_admins_but_not_to_others(sockets):
    task = await _start()

    got = {name: await _events(ws) for name, ws in sockets.items()}

    for name in ("ann", "bob", "root"):
        assert [e["event"] for e in got[name]] == ["created"], name
        assert got[name][0]["task"]["id"] == task.pk
        assert got[name][0]["task"]["business_key"] == "PO-7"
    assert got["eve"] == []


async def test_a_claim_by_one_approver_reaches_the_colleague_with_who_took_it(sockets, people):
    task = await _start()
    for ws in sockets.values():
        await _events(ws)

    await database_sync_to_async(user_task_claim)(task_id=task.pk, actor=people["bob"])

    ann = await _events(sockets["ann"])
    assert len(ann) == 1 and ann[0]["event"] == "claimed" and ann[0]["actor"] == "bob"
    assert ann[0]["task"]["assignee"] == "bob"
    assert [e["event"] for e in await _events(sockets["bob"])] == ["claimed"]
    assert await _events(sockets["eve"]) == []


async def test_completion_and_cancellation_are_pushed(sockets, people):
    first = await _start()
    second = await _start()
    for ws in sockets.values():
        await _events(ws)

    await database_sync_to_async(user_task_claim)(task_id=first.pk, actor=people["ann"])
    await database_sync_to_async(user_task_complete)(
        task_id=first.pk, actor=people["ann"], variables={"approved": True})
    await database_sync_to_async(process_instance_cancel)(instance_id=second.instance_id)

    events = [(e["event"], e["task"]["id"]) for e in await _events(sockets["bob"])]
    assert events == [("claimed", first.pk), ("completed", first.pk),
                      ("cancelled", second.pk)]
    assert await _events(sockets["eve"]) == []


def _claim_then_roll_back(task_id: int, actor: Any) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        user_task_claim(task_id=task_id, actor=actor)
        raise RuntimeError("the surrounding request failed")


async def test_a_rolled_back_claim_is_never_pushed(sockets, people):
    task = await _start()
    for ws in sockets.values():
        await _events(ws)

    await database_sync_to_async(_claim_then_roll_back)(task.pk, people["bob"])

    assert await _events(sockets["ann"]) == []
    assert await _events(sockets["bob"]) == []
    assert (await database_sync_to_async(UserTask.objects.get)(pk=task.pk)).assignee_id is None


async def test_anonymous_websocket_is_refused():
    from django.contrib.auth.models import AnonymousUser

    communicator = WebsocketCommunicator(InboxConsumer.as_asgi(), "/ws/tasks/")
    communicator.scope["user"] = AnonymousUser()

    connected, code = await communicator.connect()

    assert connected is False and code == 4401


def _session_cookie(username: str) -> str:
    client = Client()
    assert client.login(username=username, password=f"pw-{username}-123")
    return client.cookies["sessionid"].value


async def test_the_asgi_application_authenticates_the_socket_by_session_cookie(people):
    from config.asgi import application

    cookie = await database_sync_to_async(_session_cookie)("ann")
    headers = [(b"cookie", f"sessionid={cookie}".encode()), (b"origin", b"http://localhost")]
    communicator = WebsocketCommunicator(application, "/ws/tasks/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    try:
        task = await _start()
        event = await communicator.receive_json_from(timeout=2)
        assert event["event"] == "created" and event["task"]["id"] == task.pk
    finally:
        await communicator.disconnect()

    foreign = WebsocketCommunicator(application, "/ws/tasks/", headers=[
        (b"cookie", f"sessionid={cookie}".encode()), (b"origin", b"http://evil.example")])
    refused, _ = await foreign.connect()
    assert refused is False


def _audience_matches_view_permission() -> list[tuple[str, bool, bool]]:
    from tasks_portal.permissions import can

    task = start_task("forms_decision.bpmn")
    audience = task_audience(task)
    return [(user.username, user.pk in audience, can(user, task, "view"))
            for user in get_user_model().objects.all()]


async def test_the_audience_is_exactly_who_may_view_the_task(people):
    rows = await database_sync_to_async(_audience_matches_view_permission)()

    assert [name for name, pushed, may in rows if pushed != may] == []
    assert {name for name, pushed, _ in rows if pushed} == {"ann", "bob", "root"}


async def test_events_for_many_sockets_arrive_quickly(people):
    # One event to a group member's several open pages (tabs) arrives on each of them.
    tabs = []
    for _ in range(3):
        communicator = WebsocketCommunicator(InboxConsumer.as_asgi(), "/ws/tasks/")
        communicator.scope["user"] = people["ann"]
        assert (await communicator.connect())[0]
        tabs.append(communicator)
    try:
        loop = asyncio.get_running_loop()
        began = loop.time()
        await _start()
        for tab in tabs:
            assert (await tab.receive_json_from(timeout=2))["event"] == "created"
        assert loop.time() - began < 2
    finally:
        for tab in tabs:
            await tab.disconnect()


def _escalate_to_finance(task_id: int) -> None:
    from engine.services.user_tasks import user_task_escalate

    fay = get_user_model().objects.create_user("fay", password="pw-fay-123")
    fay.groups.add(Group.objects.create(name="finance"))
    user_task_escalate(task_id=task_id, to_group="finance", reason="SLA breached")


async def test_an_escalation_reaches_the_group_it_was_escalated_to(sockets):
    task = await _start()
    for ws in sockets.values():
        await _events(ws)

    await database_sync_to_async(_escalate_to_finance)(task.pk)
    fay = await database_sync_to_async(get_user_model().objects.get)(username="fay")
    communicator = WebsocketCommunicator(InboxConsumer.as_asgi(), "/ws/tasks/")
    communicator.scope["user"] = fay
    assert (await communicator.connect())[0]
    try:
        # Fay was not listening at the escalation; a second one reaches her page.
        await database_sync_to_async(_escalate_again)(task.pk)
        events = await _events(communicator)
        assert [e["event"] for e in events] == ["escalated"]
    finally:
        await communicator.disconnect()
    assert [e["event"] for e in await _events(sockets["ann"])] == ["escalated", "escalated"]
    assert await _events(sockets["eve"]) == []


def _escalate_again(task_id: int) -> None:
    from engine.services.user_tasks import user_task_escalate

    user_task_escalate(task_id=task_id, to_group="finance", reason="still late")
