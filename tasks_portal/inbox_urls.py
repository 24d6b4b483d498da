"""Routes of the portal's inbox pages (included by tasks_portal.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from tasks_portal import inbox_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("tasks/", inbox_views.inbox, name="inbox"),
    path("tasks/bulk/", inbox_views.inbox_bulk, name="inbox-bulk"),
    path("tasks/views/", inbox_views.inbox_view_save, name="inbox-view-save"),
    path("tasks/views/<int:view_id>/delete/", inbox_views.inbox_view_delete,
         name="inbox-view-delete"),
    path("tasks/sla/", inbox_views.sla_dashboard, name="sla-dashboard"),
    path("tasks/<int:task_id>/", inbox_views.task_detail, name="task"),
    path("tasks/<int:task_id>/diagram.xml", inbox_views.task_diagram, name="task-diagram"),
    path("tasks/<int:task_id>/<slug:action>/", inbox_views.task_action, name="task-action"),
    path("notifications/", inbox_views.notifications, name="notifications"),
    path("notifications/unread.json", inbox_views.notifications_unread,
         name="notifications-unread"),
    path("notifications/read/", inbox_views.notifications_read, name="notifications-read"),
]
