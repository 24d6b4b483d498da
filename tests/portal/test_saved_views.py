"""Saved inbox views: stored on the server, shareable with a group, checked on save."""

from __future__ import annotations

import pytest

from engine.errors import InvalidTaskAction, TaskNotPermitted
from engine.models import SavedInboxView
from engine.selectors import InboxFilters, saved_inbox_view_list, user_task_inbox
from engine.services.user_tasks import saved_inbox_view_delete, saved_inbox_view_save
from tests.engine._inbox import review, user
from tests.engine._instances import NOW

pytestmark = pytest.mark.django_db


def test_a_saved_view_is_shared_with_a_group_and_gives_the_same_list(db):
    ann, bob = user("ann", "finance"), user("bob", "finance")
    eve = user("eve", "hr")
    review(vendor="ACME")
    _instance, globex = review(deployed=True, vendor="Globex")
    saved = saved_inbox_view_save(owner=ann, name="Globex", view="group",
                                  filters={"variables": {"vendor": "Globex"}},
                                  order="priority", shared_with="finance", now=NOW)
    assert [v.name for v in saved_inbox_view_list(user=bob)] == ["Globex"]
    assert list(saved_inbox_view_list(user=eve)) == []
    stored = SavedInboxView.objects.get(pk=saved.pk)
    tasks = user_task_inbox(user=bob, view=stored.view,
                            filters=InboxFilters.from_dict(stored.filters), order=stored.order,
                            now=NOW)
    assert list(tasks) == [globex]


def test_saving_again_overwrites_and_bad_views_are_refused(db):
    ann = user("ann", "finance")
    saved_inbox_view_save(owner=ann, name="Mine", filters={"priority_min": 50})
    again = saved_inbox_view_save(owner=ann, name="Mine", filters={"sla": "breached"})
    assert SavedInboxView.objects.count() == 1 and again.filters == {"sla": "breached"}
    for bad in ({"view": "everyone's"}, {"order": "random"}, {"filters": {"sla": "late"}},
                {"name": " "}, {"shared_with": "no-such-group"}):
        with pytest.raises(InvalidTaskAction):
            saved_inbox_view_save(owner=ann, **{"name": "x", **bad})
    user("hr-person", "hr")
    with pytest.raises(TaskNotPermitted):
        saved_inbox_view_save(owner=ann, name="x", shared_with="hr")


def test_only_the_owner_deletes_a_view(db):
    ann, bob = user("ann", "finance"), user("bob", "finance")
    saved = saved_inbox_view_save(owner=ann, name="Mine", shared_with="finance")
    with pytest.raises(TaskNotPermitted):
        saved_inbox_view_delete(view_id=saved.pk, actor=bob)
    saved_inbox_view_delete(view_id=saved.pk, actor=ann)
    assert not SavedInboxView.objects.exists()
