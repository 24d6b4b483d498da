"""Routes of the REST API under /api/v1/ (docs/api.md lists them with who may call them)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path, re_path

from tasks_portal.api.views import (
    deployments,
    events,
    external_tasks,
    history,
    instances,
    operations,
    tasks,
)
from tasks_portal.api.views.common import api_not_found

app_name = "api"

urlpatterns: list[URLPattern | URLResolver] = [
    path("deployments/", deployments.DeploymentList.as_view(), name="deployments"),
    path("deployments/<int:deployment_id>/", deployments.DeploymentDetail.as_view(),
         name="deployment"),
    path("process-definitions/", deployments.DefinitionList.as_view(), name="definitions"),
    path("process-definitions/<str:key>/", deployments.DefinitionDetail.as_view(),
         name="definition"),
    path("process-definitions/<str:key>/xml/", deployments.DefinitionXml.as_view(),
         name="definition-xml"),
    path("process-definitions/<str:key>/start/", deployments.DefinitionStart.as_view(),
         name="definition-start"),
    path("process-instances/", instances.InstanceList.as_view(), name="instances"),
    path("process-instances/<int:instance_id>/", instances.InstanceDetail.as_view(),
         name="instance"),
    path("process-instances/<int:instance_id>/cancel/", instances.InstanceCancel.as_view(),
         name="instance-cancel"),
    path("process-instances/<int:instance_id>/suspend/", instances.InstanceSuspend.as_view(),
         name="instance-suspend"),
    path("process-instances/<int:instance_id>/resume/", instances.InstanceResume.as_view(),
         name="instance-resume"),
    path("process-instances/<int:instance_id>/variables/",
         instances.InstanceVariables.as_view(), name="instance-variables"),
    path("tasks/", tasks.TaskList.as_view(), name="tasks"),
    path("tasks/<int:task_id>/", tasks.TaskDetail.as_view(), name="task"),
    path("tasks/<int:task_id>/claim/", tasks.TaskClaim.as_view(), name="task-claim"),
    path("tasks/<int:task_id>/unclaim/", tasks.TaskUnclaim.as_view(), name="task-unclaim"),
    path("tasks/<int:task_id>/complete/", tasks.TaskComplete.as_view(), name="task-complete"),
    path("tasks/<int:task_id>/delegate/", tasks.TaskDelegate.as_view(), name="task-delegate"),
    path("tasks/<int:task_id>/resolve/", tasks.TaskResolve.as_view(), name="task-resolve"),
    path("tasks/<int:task_id>/comments/", tasks.TaskComment.as_view(), name="task-comments"),
    path("messages/", events.MessageView.as_view(), name="messages"),
    path("signals/", events.SignalView.as_view(), name="signals"),
    path("external-tasks/", external_tasks.ExternalTaskList.as_view(), name="external-tasks"),
    path("external-tasks/fetch-and-lock/", external_tasks.FetchAndLock.as_view(),
         name="external-tasks-fetch"),
    path("external-tasks/<int:task_id>/complete/",
         external_tasks.ExternalTaskComplete.as_view(), name="external-task-complete"),
    path("external-tasks/<int:task_id>/failure/", external_tasks.ExternalTaskFailure.as_view(),
         name="external-task-failure"),
    path("external-tasks/<int:task_id>/bpmn-error/",
         external_tasks.ExternalTaskBpmnError.as_view(), name="external-task-bpmn-error"),
    path("external-tasks/<int:task_id>/extend-lock/",
         external_tasks.ExternalTaskExtendLock.as_view(), name="external-task-extend-lock"),
    path("external-tasks/<int:task_id>/unlock/", external_tasks.ExternalTaskUnlock.as_view(),
         name="external-task-unlock"),
    path("jobs/", operations.JobList.as_view(), name="jobs"),
    path("jobs/<int:job_id>/retry/", operations.JobRetry.as_view(), name="job-retry"),
    path("incidents/", operations.IncidentList.as_view(), name="incidents"),
    path("incidents/<int:incident_id>/retry/", operations.IncidentRetry.as_view(),
         name="incident-retry"),
    path("history/events/", history.AuditEventList.as_view(), name="history-events"),
    path("history/events/export.csv", history.AuditExportCsv.as_view(),
         name="history-export-csv"),
    path("history/events/export.ndjson", history.AuditExportNdjson.as_view(),
         name="history-export-ndjson"),
    path("history/process-instances/<int:instance_id>/timeline/",
         history.InstanceTimeline.as_view(), name="instance-timeline"),
    # Last: any other path (a typo, a negative id) gets a problem+json 404.
    re_path(r"^(?P<path>.*)$", api_not_found, name="not-found"),
]
