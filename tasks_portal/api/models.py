"""API tokens (hashed, scoped, one per system) and idempotency records of start requests."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A secret a system sends as `Authorization: Token <token>`, limited to its scopes.

    Only the SHA-256 of the token is stored: a database dump does not leak usable tokens.
    Tokens are 160 random bits, so a fast hash is enough (no password stretching needed).
    `prefix` (the first characters) lets people tell their tokens apart in listings.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True, help_text="What the token is for.")
    scopes = models.JSONField(default=list, help_text="Scope names (tasks_portal/api/scopes.py).")
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user", "-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}... of {self.user_id} ({', '.join(self.scopes)})"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class IdempotencyRecord(models.Model):
    """The first start request a client sent with an `Idempotency-Key`.

    A repeat with the same key and body returns the same instance; the same key with a
    different body is refused (409), since the client is reusing a key by mistake. Keys are
    per user, so two systems can never collide on one another's keys.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request.")
    instance_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="api_idempotency_user_key"),
        ]

    def __str__(self) -> str:
        return f"{self.key!r} of user {self.user_id} -> instance {self.instance_id}"
