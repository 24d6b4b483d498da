"""Routes of the portal's audit pages (included by tasks_portal.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path, re_path

from tasks_portal import audit_views as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("audit/", views.history, name="audit_history"),
    re_path(r"^audit/export\.(?P<fmt>csv|ndjson)$", views.history_export,
            name="audit_export"),
    path("audit/instances/<int:instance_id>/", views.instance_history, name="audit_instance"),
    path("audit/health/", views.chain_health, name="audit_health"),
]
