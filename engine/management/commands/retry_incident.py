"""`manage.py retry_incident`: retry the job of an open incident (or list open incidents)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from engine.errors import EngineError
from engine.selectors import incident_open_list
from engine.services.incidents import incident_retry


class Command(BaseCommand):
    help = (
        "Retry the failed job of incident ID with --retries attempts (default 1); the "
        "incident is resolved and audited, and the instance goes on when the job succeeds. "
        "--list prints the open incidents."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("incident_id", nargs="*", type=int, metavar="ID")
        parser.add_argument("--retries", type=int, default=1)
        parser.add_argument("--user", default=None,
                            help="username recorded in the audit trail as the actor")
        parser.add_argument("--list", action="store_true", help="list open incidents")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"] or not options["incident_id"]:
            rows = list(incident_open_list())
            for inc in rows:
                self.stdout.write(f"{inc.pk}\tinstance {inc.instance_id}\t{inc.element_id}\t"
                                  f"{inc.created_at.isoformat()}\t{inc.message}")
            self.stdout.write(f"{len(rows)} open incidents")
            return
        actor = None
        if options["user"]:
            try:
                actor = get_user_model().objects.get_by_natural_key(options["user"])
            except get_user_model().DoesNotExist:
                raise CommandError(f"no user {options['user']!r}") from None
        for incident_id in options["incident_id"]:
            try:
                incident = incident_retry(incident_id=incident_id, actor=actor,
                                          retries=options["retries"])
            except EngineError as exc:
                raise CommandError(f"incident {incident_id}: {exc.message}") from exc
            self.stdout.write(f"incident {incident.pk} resolved: job {incident.job_id} of "
                              f"instance {incident.instance_id} retried "
                              f"({options['retries']} attempts)")
