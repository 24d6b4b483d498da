"""`manage.py seed_demo`: role groups, demo users, a system API token, the demo process.

Idempotent: a second run changes nothing and prints the same block (same token).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils.module_loading import import_string

from engine.services.deployments import deployment_create
from engine.services.instances import process_instance_start

DEMO_BPMN = Path(__file__).resolve().parents[2] / "demo" / "approval.bpmn"

# Role groups say what a person may do in the portal; business groups are what models
# name in candidateGroups.
ROLE_GROUPS = ("approver", "process_admin", "auditor")
BUSINESS_GROUPS = ("finance", "managers")
SYSTEM_USERNAME = "system"
# Open demo requests (business key, amount, purpose): one small, two that go on to finance.
DEMO_REQUESTS = (
    ("REQ-1001", 450, "Conference ticket"),
    ("REQ-1002", 1800, "Laptop for the new hire"),
    ("REQ-1003", 25000, "Office move"),
)
# Models (lower-case names) process admins manage in the Django admin.
ADMIN_SETTINGS_MODELS = ("slapolicy", "groupassignmentrule", "tasksubstitution")
# Everything a demo system client does: deploy, start, correlate, work external tasks,
# read history, operate (docs/api.md lists the scopes).
DEMO_TOKEN_SCOPES = ("deploy", "start", "correlate", "external_tasks", "history", "operate")


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    password: str
    role: str
    groups: tuple[str, ...]
    is_staff: bool = False

    @property
    def email(self) -> str:
        # Notifications go by e-mail too (the console backend by default: see them in the
        # server's output).
        return f"{self.username}@example.org"


# Two approvers and a manager, so the inbox shows claiming races, four-eyes (who reviewed a
# request may not sign it off for finance) and a manager's follow-up.
DEMO_USERS = (
    DemoUser("approver", "demo-approver", "approver", ("approver", "finance", "managers")),
    DemoUser("approver2", "demo-approver2", "approver", ("approver", "finance")),
    DemoUser("manager", "demo-manager", "approver", ("approver", "managers")),
    DemoUser("admin", "demo-admin", "process_admin", ("process_admin",), is_staff=True),
    DemoUser("auditor", "demo-auditor", "auditor", ("auditor",)),
)


class Command(BaseCommand):
    help = ("Create demo groups, users and API token, deploy the demo approval process and "
            "start three demo requests.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000/",
            help="The portal address to print (default: the address `make run` serves).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        token, definitions = self._seed()
        out = self.stdout
        out.write("")
        out.write(self.style.SUCCESS("flowdesk demo is ready"))
        out.write(f"  Portal:   {options['url']}")
        out.write(f"  API docs: {options['url'].rstrip('/')}/api/docs/")
        out.write("  Demo users (username / password / role):")
        for user in DEMO_USERS:
            out.write(f"    {user.username:<9} {user.password:<14} {user.role}")
        out.write(f"  API token of user '{SYSTEM_USERNAME}': {token}")
        out.write(f"    e.g. curl -H 'Authorization: Token {token}' {options['url']}api/schema/")
        for definition in definitions:
            out.write(f"  Deployed: {definition}")
        out.write("")

    @transaction.atomic
    def _seed(self) -> tuple[str, list[str]]:
        groups = {
            name: Group.objects.get_or_create(name=name)[0]
            for name in (*ROLE_GROUPS, *BUSINESS_GROUPS)
        }
        user_model = get_user_model()
        admin = None
        for demo in DEMO_USERS:
            user, _ = user_model.objects.get_or_create(username=demo.username)
            changed = False
            if not user.check_password(demo.password):
                user.set_password(demo.password)
                changed = True
            if user.is_staff != demo.is_staff or not user.is_active or user.email != demo.email:
                user.is_staff = demo.is_staff
                user.is_active = True
                user.email = demo.email
                changed = True
            if changed:
                user.save()
            user.groups.add(*(groups[name] for name in demo.groups))
            if demo.role == "process_admin":
                admin = user

        # Process admins keep the inbox's settings in the Django admin (/admin/): SLA
        # policies, group assignment rules, substitutions (named by app label and model,
        # so the engine imports nothing of the portal).
        groups["process_admin"].permissions.add(*Permission.objects.filter(
            content_type__app_label__in=["tasks_portal", "engine"],
            content_type__model__in=list(ADMIN_SETTINGS_MODELS)))

        system, created = user_model.objects.get_or_create(username=SYSTEM_USERNAME)
        if created:
            system.set_unusable_password()  # an API client: token only, no portal login
            system.save()
        # The portal's API tokens are hashed and scoped (tasks_portal/api); named by string
        # so that the engine package keeps no import of the portal. Derived from
        # SECRET_KEY, so every run prints the same token while only its hash is stored.
        ensure_token = import_string("tasks_portal.api.tokens.api_token_ensure_derived")
        token_key = ensure_token(user=system, purpose="seed_demo system", name="demo system",
                                 scopes=DEMO_TOKEN_SCOPES)

        deployment = deployment_create(
            files=[(DEMO_BPMN.name, DEMO_BPMN.read_bytes())], actor=admin, name="demo"
        )
        definitions = [str(d) for d in deployment.process_definitions.order_by("key")]
        self._start_demo_requests(user_model)
        return token_key, definitions

    def _start_demo_requests(self, user_model: Any) -> None:
        """A few open requests, so the inbox has something to show on first sign-in.

        Each carries an idempotency key, so a second run finds them instead of starting
        more (even after they were completed)."""
        requester = user_model.objects.get(username="approver2")
        for business_key, amount, purpose in DEMO_REQUESTS:
            process_instance_start(
                key="approval", business_key=business_key, actor=requester,
                variables={"amount": amount, "purpose": purpose},
                idempotency_key=f"seed_demo:{business_key}",
            )
