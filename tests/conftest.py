"""Shared test setup: every database test carries the `django_db` marker.

`make test` re-runs the database tests on PostgreSQL with `pytest -m django_db`; a test
that reaches the database only through a fixture (`db`, `client` + `admin_user`, ...)
would otherwise be left out of that pass, so we mark it here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

_DB_FIXTURES = frozenset({"db", "transactional_db", "live_server", "django_db_reset_sequences",
                          "django_db_serialized_rollback"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("django_db") is not None:
            continue
        if _DB_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.django_db)


@pytest.fixture(autouse=True)
def _fast_password_hashing(request: pytest.FixtureRequest) -> Iterator[None]:
    """PBKDF2 is slow on purpose; database tests that create users don't need that."""
    if request.node.get_closest_marker("django_db") is None:
        yield
        return
    settings = request.getfixturevalue("settings")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield
