"""Deployments (upload models and forms) and process definitions (list, get, XML, start)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from engine.errors import DefinitionNotFound
from engine.models import Deployment, DeploymentResource, ProcessDefinition
from engine.selectors import process_definition_list
from engine.services.deployments import deployment_create
from engine.services.instances import process_instance_start
from tasks_portal.api import scopes
from tasks_portal.api.exceptions import ApiProblem
from tasks_portal.api.models import IdempotencyRecord
from tasks_portal.api.permissions import rule
from tasks_portal.api.serializers import (
    DefinitionSerializer,
    DeploymentCreateSerializer,
    DeploymentSerializer,
    StartedInstanceSerializer,
    StartSerializer,
)
from tasks_portal.api.views.common import ApiView, parse_body
from tasks_portal.api.views.instances import instance_detail
from tasks_portal.roles import APPROVER, AUDITOR, PROCESS_ADMIN

# Uploads larger than this are refused before parsing (the XML reader has its own limit).
MAX_UPLOAD_BYTES = 10 * 1024 * 1024

READ_DEFINITIONS = rule(roles=(APPROVER, PROCESS_ADMIN, AUDITOR),
                        scopes=(scopes.START, scopes.DEPLOY, scopes.HISTORY))


def _deployments() -> Any:
    return (Deployment.objects.select_related("deployed_by")
            .prefetch_related("process_definitions", "resources").order_by("-deployed_at", "-id"))


class DeploymentList(ApiView):
    access = {
        "GET": rule(roles=(PROCESS_ADMIN, AUDITOR), scopes=(scopes.DEPLOY, scopes.HISTORY)),
        "POST": rule(roles=(PROCESS_ADMIN,), scopes=(scopes.DEPLOY,)),
    }
    parser_classes = [MultiPartParser, FormParser]
    serializer_class = DeploymentSerializer

    @extend_schema(summary="List deployments, newest first", operation_id="deployments_list",
                   responses=DeploymentSerializer(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(_deployments())
        return self.get_paginated_response(DeploymentSerializer(page, many=True).data)

    @extend_schema(
        summary="Deploy .bpmn models and .form/.json forms (multipart field `file`, repeatable)",
        request={"multipart/form-data": DeploymentCreateSerializer},
        responses={201: DeploymentSerializer, 200: DeploymentSerializer},
        description=(
            "All or nothing: if any file has an error, the response is 400 "
            "`deployment.invalid` with `files: [{source, diagnostics: [{severity, code, "
            "message, element_id, line}]}]` and nothing is stored. If nothing is new "
            "(same bytes as the newest versions), 200 with the existing deployment."
        ),
    )
    def post(self, request: Request) -> Response:
        uploads = request.FILES.getlist("file")
        if not uploads:
            raise ApiProblem(code="request.invalid", http_status=400,
                             detail="file: send one or more files in the multipart field "
                                    "'file'", extra={"errors": {"file": ["required"]}})
        files: list[tuple[str, bytes]] = []
        for upload in uploads:
            if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
                raise ApiProblem(code="deployment.too-large", http_status=400,
                                 detail=f"{upload.name}: {upload.size} bytes is more than "
                                        f"the {MAX_UPLOAD_BYTES} allowed")
            files.append((upload.name or "upload.bpmn", upload.read()))
        name = str(request.data.get("name", ""))[:200]
        newest = Deployment.objects.order_by("-id").values_list("id", flat=True).first()
        deployment = deployment_create(files=files, actor=request.user, name=name)
        created = newest is None or deployment.pk > newest
        body = DeploymentSerializer(_deployments().get(pk=deployment.pk)).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class DeploymentDetail(ApiView):
    access = {"GET": DeploymentList.access["GET"]}
    serializer_class = DeploymentSerializer

    @extend_schema(summary="One deployment with its definitions and forms")
    def get(self, request: Request, deployment_id: int) -> Response:
        deployment = _deployments().filter(pk=deployment_id).first()
        if deployment is None:
            raise ApiProblem(code="deployment.not-found", http_status=404,
                             detail=f"no deployment {deployment_id}")
        return Response(DeploymentSerializer(deployment).data)


class DeploymentFile(ApiView):
    access = {"GET": DeploymentList.access["GET"]}

    @extend_schema(
        summary="One file of a deployment, byte for byte (BPMN) or as deployed (form JSON)",
        responses={(200, "application/xml"): OpenApiResponse(OpenApiTypes.BINARY),
                   (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT)},
    )
    def get(self, request: Request, deployment_id: int, name: str) -> HttpResponse:
        data = (ProcessDefinition.objects.filter(deployment_id=deployment_id, source_name=name)
                .values_list("bpmn_bytes", flat=True).first())
        if data is not None:
            response = HttpResponse(bytes(data), content_type="application/xml")
        else:
            form = (DeploymentResource.objects.filter(deployment_id=deployment_id, name=name)
                    .values_list("schema", flat=True).first())
            if form is None:
                raise ApiProblem(code="deployment.file-not-found", http_status=404,
                                 detail=f"deployment {deployment_id} has no file {name!r}")
            response = HttpResponse(json.dumps(form, ensure_ascii=False).encode(),
                                    content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{name.replace(chr(34), "")}"'
        return response


KEY_PARAMETER = OpenApiParameter(
    "key", OpenApiTypes.STR, OpenApiParameter.PATH,
    description="A process key (the latest version, or ?version=N) or a numeric definition "
                "id (that exact version). BPMN ids never start with a digit, so the two "
                "cannot be confused.",
)
VERSION_PARAMETER = OpenApiParameter("version", OpenApiTypes.INT, OpenApiParameter.QUERY,
                                     description="With a key: this version, not the latest.")


def resolve_definition(request: Request, key: str) -> ProcessDefinition:
    rows = ProcessDefinition.objects.select_related("deployed_by").defer("bpmn_bytes")
    if key.isdigit():
        found = rows.filter(pk=int(key)).first()
        if found is None:
            raise DefinitionNotFound(f"no process definition with id {key}")
        return found
    version = request.query_params.get("version")
    if version is not None:
        if not version.isdigit():
            raise ApiProblem(code="request.invalid", http_status=400,
                             detail=f"version: {version!r} is not a positive whole number",
                             extra={"errors": {"version": ["a positive whole number"]}})
        found = rows.filter(key=key, version=int(version)).first()
    else:
        found = rows.filter(key=key).order_by("-version").first()
    if found is None:
        what = f"version {version} of {key!r}" if version is not None else f"key {key!r}"
        raise DefinitionNotFound(f"no process definition with {what}")
    return found


class DefinitionList(ApiView):
    access = {"GET": READ_DEFINITIONS}
    serializer_class = DefinitionSerializer

    @extend_schema(
        summary="List process definitions (latest version of each key, or all versions)",
        operation_id="process_definitions_list", responses=DefinitionSerializer(many=True),
        parameters=[
            OpenApiParameter("all_versions", OpenApiTypes.BOOL, description="Every version."),
            OpenApiParameter("key", OpenApiTypes.STR, description="Only this process key."),
        ],
    )
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("all_versions", "false").lower()
        if raw not in ("true", "false", "1", "0"):
            raise ApiProblem(code="request.invalid", http_status=400,
                             detail="all_versions: use true or false",
                             extra={"errors": {"all_versions": ["true or false"]}})
        # By key, newest version first: a renamed version must not sort away from its key.
        definitions = process_definition_list(latest_only=raw in ("false", "0")).order_by(
            "key", "-version")
        key = request.query_params.get("key")
        if key:
            definitions = definitions.filter(key=key)
        page = self.paginate_queryset(definitions)
        return self.get_paginated_response(DefinitionSerializer(page, many=True).data)


class DefinitionDetail(ApiView):
    access = {"GET": READ_DEFINITIONS}
    serializer_class = DefinitionSerializer

    @extend_schema(summary="One process definition", parameters=[KEY_PARAMETER,
                                                                 VERSION_PARAMETER])
    def get(self, request: Request, key: str) -> Response:
        return Response(DefinitionSerializer(resolve_definition(request, key)).data)


class DefinitionXml(ApiView):
    access = {"GET": READ_DEFINITIONS}

    @extend_schema(
        summary="The BPMN file of a definition, byte for byte as deployed",
        parameters=[KEY_PARAMETER, VERSION_PARAMETER],
        responses={(200, "application/xml"): OpenApiResponse(OpenApiTypes.BINARY)},
    )
    def get(self, request: Request, key: str) -> HttpResponse:
        definition = resolve_definition(request, key)
        data = (ProcessDefinition.objects.filter(pk=definition.pk)
                .values_list("bpmn_bytes", flat=True).get())
        response = HttpResponse(bytes(data), content_type="application/xml")
        filename = definition.source_name.replace('"', "") or f"{definition.key}.bpmn"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


def _fingerprint(request: Request, key: str, body: dict[str, Any]) -> str:
    """The request as the client sent it: the definition as named (a key means "the
    latest", so a repeat after a new version was deployed is still the same request)."""
    canonical = json.dumps({"definition": key, "version": request.query_params.get("version"),
                            "business_key": body.get("business_key"),
                            "variables": body.get("variables") or {}},
                           sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class DefinitionStart(ApiView):
    access = {"POST": rule(roles=(APPROVER, PROCESS_ADMIN), scopes=(scopes.START,))}
    serializer_class = StartedInstanceSerializer

    @extend_schema(
        summary="Start an instance (of the latest version of a key, or of a definition id)",
        parameters=[
            KEY_PARAMETER, VERSION_PARAMETER,
            OpenApiParameter(
                "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER,
                description="A repeat with the same key and body returns the first instance "
                            "with 200; the same key with another body is 409 "
                            "`idempotency.key-reused`. Keys are per user."),
        ],
        request=StartSerializer,
        responses={201: StartedInstanceSerializer, 200: StartedInstanceSerializer},
    )
    def post(self, request: Request, key: str) -> Response:
        body = parse_body(StartSerializer, request)
        definition = resolve_definition(request, key)
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key is None:
            instance, _ = process_instance_start(
                definition_id=definition.pk, variables=body.get("variables"),
                business_key=body.get("business_key"), actor=request.user)
            return Response(StartedInstanceSerializer(instance_detail(instance.pk)).data,
                            status=status.HTTP_201_CREATED)
        if not idempotency_key.strip() or len(idempotency_key) > 200:
            raise ApiProblem(code="idempotency.key-invalid", http_status=400,
                             detail="Idempotency-Key must be 1 to 200 characters")
        instance_id, created = _start_once(request, definition, _fingerprint(request, key, body),
                                           body, idempotency_key)
        return Response(StartedInstanceSerializer(instance_detail(instance_id)).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _start_once(request: Request, definition: ProcessDefinition, fingerprint: str,
                body: dict[str, Any], key: str) -> tuple[int, bool]:
    """(instance id, created): the first start with `key` by this user, or a new one."""
    user = request.user

    def replay(record: IdempotencyRecord) -> tuple[int, bool]:
        if record.fingerprint != fingerprint:
            raise ApiProblem(
                code="idempotency.key-reused", http_status=409,
                detail=f"Idempotency-Key {key!r} was used for a different request "
                       f"(instance {record.instance_id}); use a new key for a new start",
                extra={"process_instance": record.instance_id})
        return record.instance_id, False

    existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if existing is not None:
        return replay(existing)
    try:
        with transaction.atomic():
            # The engine's own key is namespaced per user, so clients never collide.
            instance, created = process_instance_start(
                definition_id=definition.pk, variables=body.get("variables"),
                business_key=body.get("business_key"), actor=user,
                idempotency_key=f"api:{user.pk}:{key}")
            IdempotencyRecord.objects.create(user=user, key=key, fingerprint=fingerprint,
                                             instance_id=instance.pk)
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as a repeat.
        return replay(IdempotencyRecord.objects.get(user=user, key=key))
    return instance.pk, created
