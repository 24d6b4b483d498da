"""Routes of the portal's admin pages (included by tasks_portal.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from tasks_portal import admin_views as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("manage/processes/", views.definition_list, name="admin_definitions"),
    path("manage/deploy/", views.deploy, name="admin_deploy"),
    path("manage/processes/<str:key>/", views.definition_detail, name="admin_definition"),
    path("manage/processes/<str:key>/v<int:version>.bpmn", views.definition_xml,
         name="admin_definition_xml"),
    path("manage/processes/<str:key>/v<int:version>/elements/<str:element_id>/",
         views.element_instances, name="admin_element"),
    path("manage/processes/<str:key>/v<int:version>/start", views.definition_start,
         name="admin_start"),
    path("manage/instances/<int:instance_id>/", views.instance_detail, name="admin_instance"),
    path("manage/instances/<int:instance_id>/cancel", views.instance_cancel,
         name="admin_instance_cancel"),
    path("manage/instances/<int:instance_id>/suspend", views.instance_suspend,
         name="admin_instance_suspend"),
    path("manage/instances/<int:instance_id>/resume", views.instance_resume,
         name="admin_instance_resume"),
    path("manage/instances/<int:instance_id>/variables", views.instance_set_variable,
         name="admin_instance_variables"),
    path("manage/incidents/<int:incident_id>/retry", views.incident_retry,
         name="admin_incident_retry"),
]
