"""Request and response shapes of the REST API (the OpenAPI schema is made from these)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from engine.models import (
    AuditEvent,
    Deployment,
    Incident,
    Job,
    ProcessDefinition,
    ProcessInstance,
    UserTask,
)
from engine.status import InstanceStatus

# --- Shared pieces -------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF would turn 5 or true into "5" and "True"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class VariablesField(serializers.DictField):
    """Process variables: an object of JSON values (the engine checks the values)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.JSONField())
        kwargs.setdefault("help_text", "Process variables: names to JSON values.")
        super().__init__(**kwargs)


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


# --- Deployments and definitions ---------------------------------------------------------


class DefinitionSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = ProcessDefinition
        fields = ["id", "key", "version", "name"]


class DefinitionSerializer(serializers.ModelSerializer):
    deployed_by = serializers.SerializerMethodField()
    xml_url = serializers.SerializerMethodField()

    class Meta:
        model = ProcessDefinition
        fields = ["id", "key", "version", "name", "source_name", "checksum", "deployment",
                  "deployed_by", "deployed_at", "xml_url"]

    def get_deployed_by(self, obj: ProcessDefinition) -> str | None:
        return _username(obj.deployed_by)

    def get_xml_url(self, obj: ProcessDefinition) -> str:
        return reverse("api:definition-xml", kwargs={"key": str(obj.pk)})


class FormResourceSerializer(serializers.Serializer):
    form_id = StrictCharField()
    name = StrictCharField()
    checksum = StrictCharField()


class DeploymentFileSerializer(serializers.Serializer):
    name = StrictCharField()
    url = StrictCharField()


class DeploymentSerializer(serializers.ModelSerializer):
    deployed_by = serializers.SerializerMethodField()
    process_definitions = DefinitionSummarySerializer(many=True, read_only=True)
    forms = serializers.SerializerMethodField()
    files = serializers.SerializerMethodField()

    class Meta:
        model = Deployment
        fields = ["id", "name", "deployed_by", "deployed_at", "process_definitions", "forms",
                  "files"]

    def get_deployed_by(self, obj: Deployment) -> str | None:
        return _username(obj.deployed_by)

    @extend_schema_field(FormResourceSerializer(many=True))
    def get_forms(self, obj: Deployment) -> list[dict[str, str]]:
        return [{"form_id": r.form_id, "name": r.name, "checksum": r.checksum}
                for r in obj.resources.all()]

    @extend_schema_field(DeploymentFileSerializer(many=True))
    def get_files(self, obj: Deployment) -> list[dict[str, str]]:
        names = sorted({d.source_name for d in obj.process_definitions.all()}
                       | {r.name for r in obj.resources.all()})
        return [{"name": name, "url": reverse("api:deployment-file", kwargs={
            "deployment_id": obj.pk, "name": name})} for name in names]


class DeploymentCreateSerializer(serializers.Serializer):
    """multipart/form-data: `file` (repeatable) and an optional `name`."""

    file = serializers.ListField(child=serializers.FileField(), allow_empty=False,
                                 help_text=".bpmn models and .form/.json form-js forms")
    name = StrictCharField(required=False, allow_blank=True, max_length=200)


class StartSerializer(serializers.Serializer):
    variables = VariablesField(required=False)
    business_key = StrictCharField(required=False, allow_null=True, max_length=255)


# --- Instances -------------------------------------------------------------------------


class InstanceSerializer(serializers.ModelSerializer):
    definition = DefinitionSummarySerializer(read_only=True)
    started_by = serializers.SerializerMethodField()

    class Meta:
        model = ProcessInstance
        fields = ["id", "definition", "business_key", "status", "started_by", "started_at",
                  "ended_at", "parent_instance"]

    def get_started_by(self, obj: ProcessInstance) -> str | None:
        return _username(obj.started_by)


class TaskSummarySerializer(serializers.ModelSerializer):
    assignee = StrictCharField(source="assignee_username", allow_null=True)

    class Meta:
        model = UserTask
        fields = ["id", "element_id", "name", "status", "assignee", "candidate_groups",
                  "candidate_users", "due", "priority", "created_at"]


class IncidentSerializer(serializers.ModelSerializer):
    process_key = StrictCharField(source="instance.definition.key", read_only=True)
    resolved_by = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = ["id", "instance", "process_key", "element_id", "message", "job",
                  "created_at", "resolved_at", "resolved_by"]

    def get_resolved_by(self, obj: Incident) -> str | None:
        return _username(getattr(obj, "resolved_by", None))


class ActiveElementSerializer(serializers.Serializer):
    element_id = StrictCharField()
    tokens = serializers.IntegerField()


class InstanceDetailSerializer(InstanceSerializer):
    variables = VariablesField(read_only=True)
    open_tasks = TaskSummarySerializer(many=True, read_only=True)
    active_elements = ActiveElementSerializer(many=True, read_only=True)
    incidents = IncidentSerializer(many=True, read_only=True, source="open_incidents",
                                   help_text="Open incidents.")

    class Meta(InstanceSerializer.Meta):
        fields = [*InstanceSerializer.Meta.fields, "variables", "open_tasks", "active_elements",
                  "incidents"]


class StartedInstanceSerializer(InstanceDetailSerializer):
    pass


class SetVariablesSerializer(serializers.Serializer):
    variables = VariablesField(allow_empty=False)


class CancelSerializer(serializers.Serializer):
    reason = StrictCharField(required=False, allow_blank=True, max_length=1000)


class InstanceFilterSerializer(serializers.Serializer):
    """Query parameters of GET /process-instances/."""

    definition_id = serializers.IntegerField(required=False, min_value=1)
    key = StrictCharField(required=False, max_length=255)
    status = serializers.ChoiceField(required=False, choices=InstanceStatus.choices)
    business_key = StrictCharField(required=False, max_length=255)
    started_by = StrictCharField(required=False, max_length=150)
    started_after = serializers.DateTimeField(required=False)
    started_before = serializers.DateTimeField(required=False)
    variable = serializers.ListField(
        child=StrictCharField(), required=False,
        help_text="name=value, repeatable; value is JSON (42, true, \"text\") or else a string",
    )


# --- Tasks ---------------------------------------------------------------------------------


class TaskSerializer(serializers.ModelSerializer):
    assignee = StrictCharField(source="assignee_username", allow_null=True)
    process_instance = serializers.IntegerField(source="instance_id")
    process_key = StrictCharField(source="instance.definition.key")
    business_key = StrictCharField(source="instance.business_key", allow_null=True)

    class Meta:
        model = UserTask
        fields = ["id", "process_instance", "process_key", "business_key", "element_id", "name",
                  "status", "assignee", "candidate_users", "candidate_groups", "due",
                  "follow_up", "priority", "created_at", "claimed_at", "completed_at"]


class TaskDetailSerializer(TaskSerializer):
    form = serializers.JSONField(help_text="The task's form schema (kind and fields).")

    class Meta(TaskSerializer.Meta):
        fields = [*TaskSerializer.Meta.fields, "form"]


class CompleteSerializer(serializers.Serializer):
    variables = VariablesField(required=False)


class DelegateSerializer(serializers.Serializer):
    to = StrictCharField(max_length=150, help_text="The username to delegate to.")


class CommentSerializer(serializers.Serializer):
    text = StrictCharField(max_length=10000)


class CommentOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    task = serializers.IntegerField()
    author = StrictCharField(allow_null=True)
    text = StrictCharField()
    created_at = serializers.DateTimeField()


# --- Messages and signals ----------------------------------------------------------------


class MessageSerializer(serializers.Serializer):
    name = StrictCharField(max_length=255)
    business_key = StrictCharField(required=False, allow_null=True, max_length=255)
    correlation = VariablesField(required=False, help_text=(
        "Correlation keys (or process variables) the waiting instance must have."))
    variables = VariablesField(required=False)


class MessageResultSerializer(serializers.Serializer):
    process_instance = serializers.IntegerField()
    started = serializers.BooleanField(help_text="True when a message start event started it.")


class SignalSerializer(serializers.Serializer):
    name = StrictCharField(max_length=255)
    variables = VariablesField(required=False)


class SignalResultSerializer(serializers.Serializer):
    delivered = serializers.IntegerField(help_text="How many instances received the signal.")


# --- External tasks ------------------------------------------------------------------------


class TopicSerializer(serializers.Serializer):
    topic_name = StrictCharField(max_length=255)
    lock_duration = serializers.IntegerField(min_value=1, max_value=86_400_000,
                                             help_text="Lock duration in milliseconds.")
    variables = serializers.ListField(child=StrictCharField(), required=False,
                                      allow_null=True, help_text="Names to fetch; omit = all.")


class FetchAndLockSerializer(serializers.Serializer):
    worker_id = StrictCharField(max_length=255)
    max_tasks = serializers.IntegerField(min_value=1, max_value=100, default=10)
    async_response_timeout = serializers.IntegerField(
        min_value=0, max_value=60_000, default=0,
        help_text="Long polling: wait up to this many ms for a task when none is there.")
    topics = TopicSerializer(many=True, allow_empty=False)


class LockedExternalTaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    topic_name = StrictCharField()
    worker_id = StrictCharField()
    lock_expiration_time = serializers.DateTimeField()
    retries = serializers.IntegerField(allow_null=True)
    process_instance_id = serializers.IntegerField()
    process_definition_key = StrictCharField()
    activity_id = StrictCharField()
    business_key = StrictCharField(allow_null=True)
    variables = VariablesField()
    priority = serializers.IntegerField()
    error_message = StrictCharField(allow_null=True)


class OkSerializer(serializers.Serializer):
    status = StrictCharField(help_text='Always "ok".')


class WorkerSerializer(serializers.Serializer):
    worker_id = StrictCharField(max_length=255)


class ExternalCompleteSerializer(WorkerSerializer):
    variables = VariablesField(required=False)


class ExternalFailureSerializer(WorkerSerializer):
    error_message = StrictCharField(max_length=10000)
    error_details = StrictCharField(required=False, allow_blank=True, default="")
    retries = serializers.IntegerField(required=False, allow_null=True, min_value=0,
                                       max_value=1000, default=None)
    retry_timeout = serializers.IntegerField(required=False, min_value=0,
                                             max_value=31_536_000_000, default=0,
                                             help_text="Milliseconds before the next attempt.")


class ExternalBpmnErrorSerializer(WorkerSerializer):
    error_code = StrictCharField(max_length=255)
    error_message = StrictCharField(required=False, allow_blank=True, default="")
    variables = VariablesField(required=False)


class ExtendLockSerializer(WorkerSerializer):
    new_duration = serializers.IntegerField(min_value=1, max_value=86_400_000,
                                            help_text="New lock duration from now, in ms.")


# --- Jobs, incidents ----------------------------------------------------------------------


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = ["id", "instance", "definition", "kind", "topic", "element_id", "due_at",
                  "retries_left", "attempts", "last_error", "lease_owner", "lease_expires_at",
                  "created_at"]


class RetrySerializer(serializers.Serializer):
    retries = serializers.IntegerField(min_value=1, max_value=100, default=1)


# --- History ----------------------------------------------------------------------------


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "chain", "seq", "instance_id", "element_id", "kind", "actor",
                  "actor_id", "at", "data", "prev_hash", "hash"]


class HistoryFilterSerializer(serializers.Serializer):
    instance_id = serializers.IntegerField(required=False, min_value=1)
    definition_key = StrictCharField(required=False, max_length=255)
    business_key = StrictCharField(required=False, max_length=255)
    element_id = StrictCharField(required=False, max_length=255)
    actor = StrictCharField(required=False, max_length=150)
    kind = serializers.ListField(child=StrictCharField(max_length=64), required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since"), attrs.get("until")
        if since is not None and until is not None and since > until:
            raise serializers.ValidationError({"until": ["until must not be before since"]})
        return attrs


class TimelineEntrySerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    chain = StrictCharField()
    at = serializers.DateTimeField()
    kind = StrictCharField()
    actor = StrictCharField(allow_null=True)
    element_id = StrictCharField(allow_null=True)
    data = serializers.JSONField()
    change = serializers.JSONField(required=False, help_text=(
        "For a variable set: {name, old, new, first}."))
