"""API tokens in the Django admin: see who holds which scopes, revoke a token."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from engine.audit import audit_append
from engine.models import SYSTEM_CHAIN
from tasks_portal.api.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "scopes", "created_at", "last_used_at",
                    "expires_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "user__username", "name")
    # Tokens are made by `manage.py create_api_token` (it shows the secret once); here
    # they are only looked at and revoked.
    readonly_fields = ("user", "name", "scopes", "token_hash", "prefix", "created_at",
                       "last_used_at", "expires_at", "revoked_at")
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        now = timezone.now()
        rows = list(queryset.filter(revoked_at__isnull=True))
        for row in rows:
            row.revoked_at = now
            row.save(update_fields=["revoked_at"])
            audit_append(chain=SYSTEM_CHAIN, kind="api token revoked", at=now,
                         actor=cast(AbstractBaseUser, request.user),
                         element_id=row.user.get_username(),
                         data={"token_id": row.pk, "prefix": row.prefix})
        messages.success(request, f"{len(rows)} token(s) revoked")
