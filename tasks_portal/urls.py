"""Portal pages and the health check."""

from __future__ import annotations

from django.urls import include, path

from tasks_portal import start_views, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("start/<str:key>/", start_views.process_start, name="process-start"),
    # Each area of the portal keeps its routes in its own module.
    path("", include("tasks_portal.inbox_urls")),
    path("", include("tasks_portal.admin_urls")),
    path("", include("tasks_portal.audit_urls")),
]
