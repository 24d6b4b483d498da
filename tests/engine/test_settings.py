"""Settings come from the environment and refuse unsafe combinations at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def _run_django(extra_env: dict[str, str], code: str = "import django; django.setup()"):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "REDIS_URL"}}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", **extra_env})
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_settings_refuse_to_start_with_debug_off_and_no_secret_key():
    result = _run_django({"DEBUG": "0"})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr


def test_settings_start_with_debug_off_when_a_secret_key_is_given():
    result = _run_django({"DEBUG": "0", "SECRET_KEY": "x" * 50})

    assert result.returncode == 0, result.stderr


def test_without_redis_url_jobs_run_in_process_and_channels_stay_in_memory():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CHANNEL_LAYERS['default']['BACKEND'], s.CELERY_TASK_ALWAYS_EAGER)"
    )
    result = _run_django({}, code)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["channels.layers.InMemoryChannelLayer", "True"]


def test_redis_url_switches_channels_and_celery_to_redis():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "from config.celery import app; "
        "print(s.CHANNEL_LAYERS['default']['BACKEND'], app.conf.broker_url, "
        "app.conf.task_always_eager)"
    )
    result = _run_django({"REDIS_URL": "redis://127.0.0.1:6379/3"}, code)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "channels_redis.core.RedisChannelLayer",
        "redis://127.0.0.1:6379/3",
        "False",
    ]


def test_a_malformed_boolean_is_refused():
    result = _run_django({"DEBUG": "maybe", "SECRET_KEY": "x" * 50})

    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr
