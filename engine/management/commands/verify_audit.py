"""`manage.py verify_audit`: walk the audit hash chains and name the first broken row of each."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from engine.audit import verify
from engine.models import AuditChain, AuditEvent


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chains. Exit 0 and print 'N chains, M events "
        "verified, OK' when every chain holds; otherwise print 'CHAIN SEQ: problem' for the "
        "first broken row of each broken chain and exit 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chain", metavar="NAME",
                            help="verify only this chain (e.g. system, instance:42)")

    def handle(self, *args: Any, **options: Any) -> None:
        chain: str | None = options["chain"]
        if chain is not None and not (
            AuditChain.objects.filter(name=chain).exists()
            or AuditEvent.objects.filter(chain=chain).exists()
        ):
            raise CommandError(f"no audit chain named {chain!r}")
        report = verify(chain=chain)
        summary = f"{report.chains} chains, {report.events} events verified"
        if report.ok:
            self.stdout.write(f"{summary}, OK")
            return
        for problem in report.problems:
            self.stdout.write(str(problem))
        self.stdout.write(f"{summary}, {len(report.problems)} broken")
        raise SystemExit(1)
