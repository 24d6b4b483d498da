"""`manage.py create_api_token USERNAME --scopes start correlate`: print a new API token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from tasks_portal.api.scopes import SCOPES
from tasks_portal.api.tokens import UnknownScope, api_token_create, check_scopes


class Command(BaseCommand):
    help = (
        "Create an API token for USERNAME with the given scopes and print it (only the "
        "token, on stdout, so TOKEN=$(manage.py create_api_token ...) works). Scopes: "
        + "; ".join(f"{name}: {what}" for name, what in SCOPES.items())
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--scopes", nargs="+", required=True, metavar="SCOPE",
            help=f"one or more of {', '.join(SCOPES)} (space or comma separated)",
        )
        parser.add_argument("--name", default="", help="what the token is for, e.g. 'erp'")
        parser.add_argument("--expires-in-days", type=int, default=None,
                            help="the token stops working after this many days")
        parser.add_argument(
            "--create-user", action="store_true",
            help="create USERNAME as an API-only user (no password) if it does not exist",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        scopes = [s.strip() for item in options["scopes"] for s in item.split(",") if s.strip()]
        try:
            scopes = check_scopes(scopes)
        except UnknownScope as exc:
            raise CommandError(str(exc)) from None
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            if not options["create_user"]:
                raise CommandError(f"no user {username!r}; pass --create-user to create an "
                                   "API-only user of that name")
            user = user_model(username=username)
            user.set_unusable_password()
            user.save()
        days = options["expires_in_days"]
        if days is not None and days <= 0:
            raise CommandError("--expires-in-days must be a positive number of days")
        expires_at = timezone.now() + timedelta(days=days) if days is not None else None
        row, token = api_token_create(user=user, scopes=scopes, name=options["name"],
                                      expires_at=expires_at)
        self.stderr.write(f"token {row.prefix}... for {username} with scopes "
                          f"{', '.join(row.scopes)}; it is shown once, store it now")
        self.stdout.write(token)
