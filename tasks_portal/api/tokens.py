"""Issuing and checking API tokens: random secrets, stored as SHA-256 only."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from engine.audit import audit_append
from engine.models import SYSTEM_CHAIN
from tasks_portal.api.models import ApiToken
from tasks_portal.api.scopes import SCOPES

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# "fd_" + 40 hex digits: 160 random bits, recognisable in logs and by secret scanners,
# and only word characters, so it survives copy and paste and shell quoting.
TOKEN_PREFIX = "fd_"  # noqa: S105 - a public prefix, not a secret
_PREFIX_SHOWN = 8
# Writing last_used_at on every request would turn every read into a write.
_LAST_USED_EVERY = timedelta(minutes=1)


class UnknownScope(ValueError):
    """A scope name that tasks_portal/api/scopes.py does not define."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes, deduplicated in order; UnknownScope names the first unknown one."""
    result: list[str] = []
    for scope in scopes:
        if scope not in SCOPES:
            raise UnknownScope(f"unknown scope {scope!r}; scopes are: {', '.join(SCOPES)}")
        if scope not in result:
            result.append(scope)
    return result


def _store(*, user: Any, token: str, scopes: list[str], name: str,
           expires_at: datetime | None) -> ApiToken:
    row = ApiToken.objects.create(
        user=user, name=name, scopes=scopes, token_hash=hash_token(token),
        prefix=token[:_PREFIX_SHOWN], expires_at=expires_at,
    )
    # Who can act as whom is part of the history an auditor reads (never the token itself).
    audit_append(chain=SYSTEM_CHAIN, kind="api token created", at=row.created_at,
                 element_id=user.get_username(),
                 data={"token_id": row.pk, "prefix": row.prefix, "user": user.get_username(),
                       "scopes": scopes, "name": name,
                       "expires_at": expires_at.isoformat() if expires_at else None})
    return row


@transaction.atomic
def api_token_create(
    *,
    user: AbstractBaseUser,
    scopes: Iterable[str],
    name: str = "",
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `user` with `scopes`: (row, the token). The token is never stored."""
    token = TOKEN_PREFIX + secrets.token_hex(20)
    return _store(user=user, token=token, scopes=check_scopes(scopes), name=name,
                  expires_at=expires_at), token


@transaction.atomic
def api_token_ensure_derived(
    *, user: AbstractBaseUser, scopes: Iterable[str], purpose: str, name: str = ""
) -> str:
    """A token derived from SECRET_KEY and `purpose`: the same on every run of a checkout.

    For demo data (`seed_demo` prints the same token every time while only its hash is
    stored). Not for production systems: anyone with SECRET_KEY can derive it.
    """
    digest = hmac.new(settings.SECRET_KEY.encode("utf-8"),
                      f"flowdesk api token: {purpose}".encode(), hashlib.sha256).hexdigest()
    token = TOKEN_PREFIX + digest[:40]
    wanted = check_scopes(scopes)
    row = ApiToken.objects.filter(token_hash=hash_token(token)).first()
    if row is None:
        _store(user=user, token=token, scopes=wanted, name=name, expires_at=None)
    elif row.scopes != wanted or row.user_id != user.pk or row.revoked_at is not None:
        row.scopes, row.user_id, row.revoked_at = wanted, user.pk, None
        row.save(update_fields=["scopes", "user_id", "revoked_at"])
    return token


def api_token_lookup(token: str) -> ApiToken | None:
    """The live token row for `token` (not revoked, not expired), with its user; or None."""
    row = (ApiToken.objects.select_related("user").filter(token_hash=hash_token(token))
           .first())
    if row is None or row.revoked_at is not None:
        return None
    now = timezone.now()
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at >= _LAST_USED_EVERY:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row
