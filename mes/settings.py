"""Settings for the fabrication-shop MES.

Every setting that differs between a laptop and a shop's servers comes from an environment variable with an
embedded default, so that one machine works with nothing installed but Python (SQLite file and Celery's
filesystem broker under ``var/``) and a real shop switches to PostgreSQL and Redis or RabbitMQ with no code
change.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MES_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean environment variable ("1", "true", "yes", "on" are true)."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    """Read a comma-separated environment variable into a list of non-empty items."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
# The embedded default key is only for a development machine; deployment sets SECRET_KEY.
SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-key-change-me-for-any-real-shop")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "simple_history",
    "django_htmx",
    "mes.core",
    "mes.catalog",
    "mes.repairs",
    "mes.production",
    "mes.inventory",
    "mes.dashboards",
    "machines",
    "vision",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (htmx, the stylesheet) straight from the app server: one process serves the shop.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "mes.urls"
WSGI_APPLICATION = "mes.wsgi.application"

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
    {
        # Only the fragments on the terminal's hot path (mes/jinja2.py says why); named with ".jinja".
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "mes.jinja2.environment", "autoescape": True},
    },
]

# The cache holds rendered terminal tiles (mes/production/templatetags/terminal.py). Per-process memory by
# default; with several web workers, CACHE_URL=redis://host:6379/1 lets them share what one has rendered.
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif CACHE_URL:
    raise ImproperlyConfigured(
        f"CACHE_URL must be a redis:// URL (or unset for per-process memory): {CACHE_URL!r}"
    )
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'mes.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and runner share one file: wait for a lock instead of failing at once, and take the
    # write lock at BEGIN so two writers never deadlock on a lock upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            # WAL lets readers run beside the writer; NORMAL sync is safe in WAL mode (no corruption,
            # at worst the last commits are lost on power failure) and keeps commits off the fsync path.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not memory, so that worker processes started by integration tests see the test data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing root before collectstatic
STATICFILES_DIRS = [BASE_DIR / "static"]
# Without collectstatic (development, tests) WhiteNoise serves files from the finders.
WHITENOISE_USE_FINDERS = True
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))

LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "mes.core.api.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Fabrication-shop MES API",
    "DESCRIPTION": "Tickets, part requests, catalogue, stock, machines, jobs and camera stations.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Celery -------------------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_DIR = VAR_DIR / "broker"


def filesystem_broker_options(folder: Path) -> dict:
    """Transport options of Celery's filesystem broker kept under ``folder`` (created if missing)."""
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        # Fanout exchanges (worker control, event streams) live here too, not in the working directory.
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }


if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(CELERY_BROKER_DIR)
# Tasks write their outcome to the database they act on; a result backend is optional.
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A run whose runner has not reported for this long is marked INTERRUPTED by the watchdog. The runner
# reports at least once a second and the watchdog looks every MES_WATCHDOG_PERIOD_S, so a dead runner's
# run is INTERRUPTED within their sum (10 s). A started run no runner has claimed gets longer: the task
# may wait behind the broker's polling.
MES_RUN_STALE_AFTER_S = float(os.environ.get("MES_RUN_STALE_AFTER_S", "8"))
MES_RUN_UNCLAIMED_AFTER_S = float(os.environ.get("MES_RUN_UNCLAIMED_AFTER_S", "60"))
MES_WATCHDOG_PERIOD_S = float(os.environ.get("MES_WATCHDOG_PERIOD_S", "2"))
# Every worker records a heartbeat this often; one silent for MES_WORKER_ALIVE_S is taken for dead (its
# machines show unreachable and refuse new jobs).
MES_WORKER_HEARTBEAT_S = float(os.environ.get("MES_WORKER_HEARTBEAT_S", "2"))
MES_WORKER_ALIVE_S = float(os.environ.get("MES_WORKER_ALIVE_S", "7"))
# Largest program, in MB, per machine type ("other" for any type not listed); MES_MAX_PROGRAM_MB="30"
# sets one limit for all.
_program_mb = os.environ.get("MES_MAX_PROGRAM_MB")
MES_MAX_PROGRAM_MB = (
    dict.fromkeys(("cnc_mill", "fdm_printer", "other"), float(_program_mb))
    if _program_mb
    else {"cnc_mill": 2.0, "fdm_printer": 8.0, "other": 2.0}
)
# A runner that reported within this many seconds is taken to be connected to its machine's controller
# (it reports at least once a second while it streams).
MES_RUNNER_ALIVE_S = float(os.environ.get("MES_RUNNER_ALIVE_S", "3"))
# How long an E-STOP request waits for the runner to confirm its bytes are on the wire before saying the
# stop was not confirmed.
MES_ESTOP_CONFIRM_S = float(os.environ.get("MES_ESTOP_CONFIRM_S", "1"))
# An unlock or homing request its machine's worker takes later than this is not sent: nobody may be
# watching the machine any more when the spindle starts to move.
MES_MAINTENANCE_MAX_WAIT_S = float(os.environ.get("MES_MAINTENANCE_MAX_WAIT_S", "30"))
CELERY_BEAT_SCHEDULE = {
    "machines-watchdog": {
        "task": "machines.watchdog",
        "schedule": MES_WATCHDOG_PERIOD_S,
        "options": {"queue": "default", "expires": MES_WATCHDOG_PERIOD_S},
    },
    # Inspection requests whose vision worker died end in error (VISION_REQUEST_STALE_AFTER_S, default 300).
    "vision-watchdog": {"task": "vision.watchdog", "schedule": 60.0, "options": {"queue": "default"}},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Prefix of machine queue names; lets several installations (or test runs) share one broker.
MES_QUEUE_PREFIX = os.environ.get("MES_QUEUE_PREFIX", "")

# --- Camera stations (vision) ----------------------------------------------------------------------------
# Queue of the inspection tasks; a test (or a second installation on one broker) may use its own.
VISION_QUEUE = os.environ.get("VISION_QUEUE", "vision")
# An older calibration is stale: its station's photos become "unable to inspect" until it is recalibrated.
VISION_CALIBRATION_MAX_AGE_DAYS = float(os.environ.get("VISION_CALIBRATION_MAX_AGE_DAYS", "30"))
VISION_CALIBRATION_MAX_RMS_PX = float(os.environ.get("VISION_CALIBRATION_MAX_RMS_PX", "0.5"))
# Uploads: bytes per file at the API, and decoded pixels (checked from the header before decoding).
VISION_MAX_UPLOAD_BYTES = int(os.environ.get("VISION_MAX_UPLOAD_BYTES", str(25 * 1024 * 1024)))
VISION_MAX_PIXELS = int(os.environ.get("VISION_MAX_PIXELS", "30000000"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
