"""Portal pages, the health check and the API schema."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_home_page_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_login_page_shows_a_login_form(client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="username"' in body and 'name="password"' in body
    assert "csrfmiddlewaretoken" in body


def test_demo_user_can_log_in_and_sees_the_demo_process(client):
    call_command("seed_demo", stdout=StringIO())

    login = client.post(
        "/accounts/login/", {"username": "approver", "password": "demo-approver"}
    )
    assert login.status_code == 302 and login["Location"] == "/"
    response = client.get("/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Process definitions" in body
    assert "Approval request" in body and "<code>approval</code>" in body
    assert "approver" in body  # the nav names the signed-in user


def test_wrong_password_shows_an_error(client):
    call_command("seed_demo", stdout=StringIO())

    response = client.post("/accounts/login/", {"username": "approver", "password": "nope"})

    assert response.status_code == 200
    body = response.content.decode()
    assert 'role="alert"' in body and "didn't match" in body


def test_logout_is_a_post_form_and_ends_the_session(client, django_user_model):
    user = django_user_model.objects.create_user("ann", password="pw-ann-123")
    client.force_login(user)
    body = client.get("/").content.decode()
    assert 'method="post" action="/accounts/logout/"' in body

    client.post("/accounts/logout/")

    assert client.get("/").status_code == 302


def test_healthz_reports_the_database_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_api_schema_is_an_openapi_document(client):
    response = client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "flowdesk API"


def test_api_docs_page_points_at_the_schema(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert "/api/schema/" in response.content.decode()


def test_api_docs_page_loads_swagger_ui_from_this_server_not_a_cdn(client):
    page = client.get("/api/docs/").content.decode()

    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
