"""Django settings, read from environment variables only (docs/operations.md lists them)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state of a checkout (SQLite file, generated dev secret); gitignored.
VAR_DIR = BASE_DIR / "var"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def _dev_secret_key() -> str:
    """A per-checkout key, made once, so sessions survive restarts of the dev server."""
    path = VAR_DIR / "secret_key"
    if path.exists():
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # Create with owner-only permissions; if another process won the race, use its key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


# The dev server is the default way to run a checkout, so DEBUG is on unless told otherwise.
DEBUG = env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off, set the SECRET_KEY environment variable "
            "to a long random string (e.g. python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'); it is only generated automatically when DEBUG "
            "is on."
        )
    SECRET_KEY = _dev_secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # daphne first: its runserver replaces Django's, so the dev server speaks ASGI.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI files served locally, no CDN needed
    "guardian",
    "channels",
    "django_filters",
    "engine",
    "tasks_portal",
    "tasks_portal.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# Embedded default: a SQLite file in var/. Production and CI: DATABASE_URL=postgres://...
_default_sqlite = VAR_DIR / "db.sqlite3"
if "DATABASE_URL" not in os.environ:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES: dict[str, dict[str, Any]] = {
    "default": dict(
        dj_database_url.config(
            default=f"sqlite:///{_default_sqlite}",
            conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
        )
    ),
}
# Opt-in psycopg connection pool (PostgreSQL, Django 5.1+). Under ASGI each request runs
# its synchronous code in a thread of its own and Django's connections are per thread, so
# CONN_MAX_AGE keeps nothing there: without a pool every request opens a connection.
_pool_max = int(os.environ.get("DB_POOL_MAX_SIZE", "0"))
if _pool_max > 0:
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DB_POOL_MAX_SIZE needs a postgres:// DATABASE_URL")
    if DATABASES["default"]["CONN_MAX_AGE"]:
        raise ImproperlyConfigured("DB_POOL_MAX_SIZE and DB_CONN_MAX_AGE exclude each "
                                   "other: the pool keeps the connections; unset one")
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(int(os.environ.get("DB_POOL_MIN_SIZE", "2")), _pool_max),
        "max_size": _pool_max,
        "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "10")),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django turns psycopg's prepared statements off unless asked (prepare_threshold
    # None, for PgBouncer's transaction mode). The engine's hot statements (engine/rows.py)
    # are fixed texts sent with server-side binding: prepared after this many uses on a
    # connection, PostgreSQL plans them once instead of on every call. "none" turns it off
    # again (behind PgBouncer in transaction mode before 1.21).
    _prepare = (os.environ.get("DB_PREPARE_THRESHOLD") or "5").strip().lower()
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        None if _prepare in ("", "none", "off") else int(_prepare))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of failing
    # half-way with "database is locked"; WAL lets readers go on while one writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# --- I18N / static ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# bpmn-js comes from npm (`npm ci`, run by `make run` and `make test`); its ready-made
# bundles are served as they are, no bundler:
#   {% static 'vendor/bpmn-js/bpmn-viewer.production.min.js' %}
STATICFILES_DIRS: list[Any] = [
    BASE_DIR / "static",
    ("vendor/bpmn-js", BASE_DIR / "node_modules" / "bpmn-js" / "dist"),
]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))

# --- Redis and the Celery broker ---------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# Celery's broker: CELERY_BROKER_URL when given (RabbitMQ: amqp://user:pass@host:5672//),
# else Redis. The Channels layer (live inbox pushes between processes) is always Redis's.
_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "") or REDIS_URL

if REDIS_URL:
    CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        },
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
if _BROKER_URL:
    CELERY_BROKER_URL = _BROKER_URL
    # The job tasks keep no results (ignore_result); Redis holds them when it is there.
    CELERY_RESULT_BACKEND = REDIS_URL or None
    CELERY_TASK_ALWAYS_EAGER = False
else:
    # Embedded default: one process, nothing to install; jobs run inside the caller.
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# A task is acknowledged after it ran, so a worker that dies mid-task hands it back.
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# --- Job runner (engine/jobs.py, docs/jobs.md) ------------------------------------------
# celery: workers run jobs (kicked on commit + the beat sweep below); embedded: a thread
# of the server process (`make run`, no broker); off: only `manage.py run_jobs`.
JOB_RUNNER = os.environ.get("JOB_RUNNER", "celery" if _BROKER_URL else "embedded")
JOB_LEASE_SECONDS = float(os.environ.get("JOB_LEASE_SECONDS", "60"))
JOB_POLL_SECONDS = float(os.environ.get("JOB_POLL_SECONDS", "1"))
JOB_CLAIM_LIMIT = int(os.environ.get("JOB_CLAIM_LIMIT", "50"))
JOB_BATCH_SIZE = int(os.environ.get("JOB_BATCH_SIZE", "20"))
JOB_DEFAULT_ATTEMPTS = int(os.environ.get("JOB_DEFAULT_ATTEMPTS", "3"))
JOB_RETRY_BASE_SECONDS = float(os.environ.get("JOB_RETRY_BASE_SECONDS", "10"))
# Modules that register @service_task handlers, imported when the engine app is ready.
SERVICE_TASK_MODULES = [m for m in os.environ.get("SERVICE_TASK_MODULES", "").split(",") if m]
# The queue job tasks go to; separate deployments (or test runs) on one Redis use their own.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "celery")
CELERY_BEAT_SCHEDULE = {
    "flowdesk-sweep-due-jobs": {
        "task": "flowdesk.sweep_due_jobs",
        "schedule": 1.0,
        # A sweep nobody took within 2 s is superseded by the next one.
        "options": {"expires": 2.0},
    },
}

# --- REST API ---------------------------------------------------------------------------
# Tokens are our own (hashed, scoped: tasks_portal/api/models.py); docs/api.md.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tasks_portal.api.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "tasks_portal.api.schema.ProblemAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "tasks_portal.api.pagination.ApiPagination",
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "tasks_portal.api.exceptions.problem_exception_handler",
    # Per API token (browser sessions are not throttled): tasks_portal/api/throttling.py.
    "DEFAULT_THROTTLE_RATES": {"api_token": os.environ.get("API_TOKEN_RATE", "1200/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "flowdesk API",
    "DESCRIPTION": "Start processes, work tasks and external tasks, read history. "
    "Errors are RFC 9457 problem details (application/problem+json) with a stable `code`.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "InstanceStatusEnum": "engine.status.InstanceStatus",
        "UserTaskStatusEnum": "engine.status.UserTaskStatus",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Inbox notifications and SLA (docs/inbox.md) -----------------------------------------
# E-mail goes to the console unless EMAIL_BACKEND names a real backend (e.g. SMTP).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "flowdesk@localhost")
# The portal's public address, for links in notification e-mails (empty: relative links).
FLOWDESK_BASE_URL = os.environ.get("FLOWDESK_BASE_URL", "")
# Without an SLA policy's at_risk_after, a task turns at risk this far from created to due.
FLOWDESK_SLA_AT_RISK_FRACTION = float(os.environ.get("FLOWDESK_SLA_AT_RISK_FRACTION", "0.8"))

# --- Logging ----------------------------------------------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Django's default config gives "django" its own console handler; one is enough.
    "loggers": {"django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}},
}
