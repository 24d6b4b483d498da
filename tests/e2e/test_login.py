"""The browser harness works: a demo user signs in through the real form and sees the portal."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model


@pytest.mark.django_db(transaction=True)
def test_a_user_signs_in_through_the_login_form_in_chromium(page: Any, login: Any) -> None:
    get_user_model().objects.create_user("carol", password="pw-carol-123")
    login(page, "carol", "pw-carol-123")
    assert "/accounts/login/" not in page.url
    assert "carol" in page.content()


@pytest.mark.django_db(transaction=True)
def test_a_wrong_password_is_refused_with_a_message(page: Any, login: Any) -> None:
    get_user_model().objects.create_user("dave", password="pw-dave-123")
    login(page, "dave", "not-his-password")
    assert page.get_by_role("alert").inner_text().startswith("Your username and password")
