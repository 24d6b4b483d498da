"""App configuration for the engine: loads service task handlers, starts the embedded runner."""

from __future__ import annotations

import os
import sys
import threading
import time

from django.apps import AppConfig
from django.conf import settings


def _is_server_process(argv: list[str]) -> bool:
    """Is this the process that serves requests (not the autoreloader's parent, not a
    one-off command, not pytest)?"""
    if os.environ.get("FLOWDESK_EMBEDDED_RUNNER") in ("0", "1"):
        return os.environ["FLOWDESK_EMBEDDED_RUNNER"] == "1"
    program = os.path.basename(argv[0]) if argv else ""
    if program in ("daphne", "uvicorn", "gunicorn"):
        return True
    if len(argv) > 1 and argv[1] == "runserver":
        # With the autoreloader the server runs in the child (RUN_MAIN=true).
        return os.environ.get("RUN_MAIN") == "true" or "--noreload" in argv
    return False


class EngineConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "engine"
    verbose_name = "Process engine"

    def ready(self) -> None:
        from engine import jobs
        from engine.service_tasks import load_handler_modules

        load_handler_modules(list(getattr(settings, "SERVICE_TASK_MODULES", [])))
        if jobs.runner_mode() == "embedded" and _is_server_process(sys.argv):
            # The embedded default: no broker, no worker; the server fires its own timers.
            # Started once the app registry is ready: its first poll is a query, and
            # queries during ready() are not allowed.
            threading.Thread(target=_start_when_ready, name="flowdesk-embedded-start",
                             daemon=True).start()


def _start_when_ready() -> None:
    from django.apps import apps

    from engine import jobs

    while not apps.ready:
        time.sleep(0.05)
    jobs.start_embedded_runner()
