"""ATMR settings: one module, driven by environment variables (see .env.example).

With nothing set it runs on embedded defaults: SQLite, local-memory cache, in-memory channel
layer, Celery tasks run in-process, straight-line travel times.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

import dj_database_url
import orjson
from django.core.exceptions import ImproperlyConfigured

from atmr.channel_hosts import channel_layer_hosts
from atmr.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
TESTING = env_bool("ATMR_TESTING", False)

SECRET_KEY = env_str("SECRET_KEY") or ""
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-dev-only-key-never-used-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by us: the docs work offline
    "corsheaders",
    "channels",
    "atmr.accounts",
    "atmr.chat",
    "atmr",
    "drivers",
    "places",
    "bookings",
    "dispatch",
    "realtime",
    "board",
    "billing",
]

MIDDLEWARE = [
    # First: the liveness probe pays for no other middleware (see atmr/health.py).
    "atmr.health.HealthCheckMiddleware",
    # A request id for the logs (X-Request-ID) and the caller's ids on every line (atmr/logs.py).
    "atmr.logs.RequestContextMiddleware",
    # Request rate, latency and SQL queries per view and status (atmr/metrics.py; the
    # liveness probe is not counted).
    "atmr.metrics.HttpMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The admin in the staff member's company time zone (after auth: it reads the user).
    "atmr.timezones.CompanyTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The toolbar only ever runs in development: it would leak SQL and settings otherwise.
DEBUG_TOOLBAR = DEBUG and not TESTING and env_bool("DEBUG_TOOLBAR", True)
if DEBUG_TOOLBAR:
    INSTALLED_APPS.append("debug_toolbar")
    MIDDLEWARE.insert(0, "debug_toolbar.middleware.DebugToolbarMiddleware")
    INTERNAL_IPS = ["127.0.0.1"]
# Collapsed: the toolbar's panel would otherwise cover the admin's save buttons on every page.
DEBUG_TOOLBAR_CONFIG = {
    "SHOW_COLLAPSED": True,
    "SHOW_TOOLBAR_CALLBACK": "atmr.devtools.toolbar_shown",
}

ROOT_URLCONF = "atmr.urls"
WSGI_APPLICATION = "atmr.wsgi.application"
ASGI_APPLICATION = "atmr.asgi.application"

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

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# PostgreSQL: a psycopg pool per process, sized to the server's threads (gunicorn gthread
# --threads, see `make serve`). A new connection per request cost about half the throughput
# of a list; a persistent connection with health checks pays a `SELECT 1` per request, the
# pool does not. DB_POOL_MAX_SIZE=0 falls back to CONN_MAX_AGE with health checks.
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 0 if TESTING else 4)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DB_POOL_MAX_SIZE > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool owns connection lifetimes
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(env_int("DB_POOL_MIN_SIZE", 2), DB_POOL_MAX_SIZE),
        "max_size": DB_POOL_MAX_SIZE,
        # Seconds a request waits for a free connection before failing loudly.
        "timeout": env_int("DB_POOL_TIMEOUT", 10),
    }
# Server-side parameters let psycopg prepare a query it has run 5 times on a connection, so
# PostgreSQL stops planning the hot lists on every request (planning the bookings list took
# 0.8-1.5 ms, running it 0.3 ms). Django turns psycopg's preparing off by default for the sake
# of connection poolers: set DB_PREPARED_STATEMENTS=0 behind a transaction-mode pgbouncer.
POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if POSTGRES and env_bool("DB_PREPARED_STATEMENTS", True):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=5
    )
elif POSTGRES:
    # Behind pgbouncer's transaction mode a cursor cannot outlive its transaction either.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
# E-mail log-in that refuses users of a suspended company, at every door (API and admin).
AUTHENTICATION_BACKENDS = ["atmr.accounts.backends.CompanyUserBackend"]

# --- Redis: cache, channel layer, Celery broker ---------------------------------------------
REDIS_URL = env_str("REDIS_URL") or ""
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "atmr.redis_cache.ReusingRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "atmr"),
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            # The pub/sub layer carried about 3x the messages/s of the list-based one here.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Several hosts shard groups over them (atmr/channel_hosts.py); default REDIS_URL.
            "CONFIG": {
                "hosts": channel_layer_hosts(env_str("REDIS_CHANNEL_URLS") or REDIS_URL),
                "prefix": env_str("CHANNELS_PREFIX", "atmr"),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
# Workers log through LOGGING below (JSON, ids, PII redacted), not Celery's own handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Two queues (run a worker per queue, see the README): `dispatch` holds only dispatch runs, so
# a burst of background work never delays one; `background` everything else. Every task is
# routed by name here (tests/test_celery_routing.py fails on one that is not).
CELERY_TASK_DEFAULT_QUEUE = "background"
CELERY_TASK_ROUTES = {
    "dispatch.tasks.execute_run": {"queue": "dispatch"},
    "dispatch.tasks.fail_stale_runs": {"queue": "dispatch"},  # frees a dead run's day
    # A fresh trip's proposals are wanted within a second: never behind a burst of ETAs.
    "dispatch.tasks.propose_insertions": {"queue": "dispatch"},
    # The ETA refresh (every minute, and on a driver's change): off the dispatch queue too.
    "dispatch.refresh_etas": {"queue": "background"},
    "dispatch.refresh_driver_etas": {"queue": "background"},
    "billing.send_reminders": {"queue": "background"},
    "billing.company_reminders": {"queue": "background"},
    "bookings.materialise_standing_orders": {"queue": "background"},
    "bookings.audit_list_json": {"queue": "background"},
    "drivers.prune_locations": {"queue": "background"},
    "drivers.ensure_location_partitions": {"queue": "background"},
    "drivers.sort_location_partitions": {"queue": "background"},
    "drivers.generate_shifts": {"queue": "background"},
}
# Redis has no native priorities: kombu keeps one list per step and pops the lowest first, so
# a run for today (re-planning the live day, priority 0) overtakes runs planning later days.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "priority_steps": list(range(10)),
    "sep": ":",
    "queue_order_strategy": "priority",
}
CELERY_TASK_DEFAULT_PRIORITY = 5

# Dispatch runs: the executing process beats every DISPATCH_HEARTBEAT_S seconds; a running run
# silent for DISPATCH_RUN_STALE_S is failed (beat sweep, and on start of a run for its day).
DISPATCH_HEARTBEAT_S = env_int("DISPATCH_HEARTBEAT_S", 5)
DISPATCH_RUN_STALE_S = env_int("DISPATCH_RUN_STALE_S", 45)
if not 1 <= DISPATCH_HEARTBEAT_S * 3 <= DISPATCH_RUN_STALE_S:
    # A live run missing two beats in a row must not be taken for a dead one.
    raise ImproperlyConfigured("DISPATCH_RUN_STALE_S must be at least 3 x DISPATCH_HEARTBEAT_S.")
# With eager tasks (no worker) a run executes in a background thread, off the request; tests
# keep it in-line so they can assert on its outcome.
DISPATCH_EAGER_IN_THREAD = not TESTING

# --- Travel times ---------------------------------------------------------------------------
OSRM_URL = env_str("OSRM_URL") or ""
OSRM_TIMEOUT_S = float(env_str("OSRM_TIMEOUT_S", "2.0") or 2.0)
OSRM_MAX_TABLE_SIZE = env_int("OSRM_MAX_TABLE_SIZE", 100)
# The server's algorithm (osrm-routed --algorithm): "ch" (docker-compose's) or "mld". Over
# MLD a table of one or two points against many is asked one point per request (one search
# each, not one per coordinate: dispatch/engine/travel/blocks.py).
OSRM_ALGORITHM = env_str("OSRM_ALGORITHM", "ch") or "ch"
if OSRM_ALGORITHM not in ("ch", "mld"):
    raise ImproperlyConfigured("OSRM_ALGORITHM must be ch or mld.")

# --- Places: geocoding and the admin's map picker --------------------------------------------
# A Nominatim-compatible `/search` API; unset: addresses need their coordinates typed.
GEOCODER_URL = env_str("GEOCODER_URL") or ""
if GEOCODER_URL and not GEOCODER_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured("GEOCODER_URL must be an http:// or https:// URL.")
GEOCODER_TIMEOUT_S = float(env_str("GEOCODER_TIMEOUT_S", "2.0") or 2.0)
GEOCODER_CACHE_S = env_int("GEOCODER_CACHE_S", 30 * 24 * 3600)
# Map tiles ({z}/{x}/{y}) of the coordinate picker and the dispatch board; empty: no tiles.
MAP_TILES_URL = env_str("MAP_TILES_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png") or ""
MAP_TILES_ATTRIBUTION = env_str(
    "MAP_TILES_ATTRIBUTION",
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
)

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing is deliberately slow in production; tests log in hundreds of times.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["atmr.accounts.authentication.ClaimsJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # orjson: 0.02 ms instead of 0.3 ms (stdlib json) for a 50-booking page; same bytes for what
    # the serializers emit (strings for datetimes, decimals and UUIDs; UTF-8, compact).
    "DEFAULT_RENDERER_CLASSES": ["drf_orjson_renderer.renderers.ORJSONRenderer"],
    # Raw datetimes (outside serializers) end in "Z" like DRF's encoder writes them. Integer
    # keys are written as strings like the standard library does: DRF keys a list field's item
    # errors by index, which orjson otherwise refuses (a 500 in place of the 400).
    "ORJSON_RENDERER_OPTIONS": (orjson.OPT_UTC_Z, orjson.OPT_NON_STR_KEYS),
    # orjson with a nesting limit: a deeply nested body is a 400, never a RecursionError.
    "DEFAULT_PARSER_CLASSES": ["atmr.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "atmr.schema.ApiAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "atmr.pagination.PagePagination",
    "EXCEPTION_HANDLER": "atmr.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login_ip": env_str("LOGIN_RATE_PER_IP", "30/min"),
        "login_email": env_str("LOGIN_RATE_PER_EMAIL", "10/min"),
    },
    "UNAUTHENTICATED_USER": None,
}

# Peers whose X-Forwarded-For is believed (addresses or CIDRs), or the number of proxies in
# front when their addresses are not fixed; neither: the header is ignored (accounts/throttles).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
NUM_PROXIES = env_int("NUM_PROXIES", 0)
try:
    [ipaddress.ip_network(proxy, strict=False) for proxy in TRUSTED_PROXIES]
except ValueError as exc:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}") from exc

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY") or SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "UPDATE_LAST_LOGIN": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "ATMR API",
    "DESCRIPTION": "Dispatch platform for patient-transport companies.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files (drf-spectacular-sidecar), no online validator
    # badge: /api/docs/ loads nothing from another host and works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "BookingStatusEnum": "bookings.models.Booking.Status",
        "DriverStatusEnum": "drivers.models.Driver.Status",
        "MobilityEnum": "bookings.models.Mobility",
        "RoleEnum": "atmr.accounts.models.User.Role",
        "DispatchRunStatusEnum": "dispatch.models.DispatchRun.Status",
        "DispatchModeEnum": "dispatch.models.DispatchRun.Mode",
        "AbsenceKindEnum": "drivers.models.Absence.Kind",
        "ReasonCodeKindEnum": "bookings.models.ReasonCode.Kind",
        "PlaceKindEnum": "places.models.Place.Kind",
        "PayerKindEnum": "billing.models.Payer.Kind",
        "InvoiceStatusEnum": "billing.models.Invoice.Status",
        "PaymentFlagEnum": "billing.models.Payment.Flag",
    },
}

# --- i18n, static ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not (DEBUG or TESTING)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security (production defaults; local plain-HTTP serving turns them off by env) ----------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not (DEBUG or TESTING))
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Metrics (atmr/metrics.py) --------------------------------------------------------------
# /metrics answers only to "Authorization: Bearer <METRICS_TOKEN>"; unset: /metrics is a 404.
METRICS_TOKEN = env_str("METRICS_TOKEN") or ""
PROMETHEUS_LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf")
)  # fmt: skip
# Prometheus scrapes the web processes directly over the private network, not through the
# TLS proxy: no redirect to https for it (the token still guards it).
SECURE_REDIRECT_EXEMPT = [r"^metrics$"]

# JSON lines with the request/trace, company and user ids, PII redacted (atmr/logs.py);
# LOG_FORMAT=plain|json, by default plain with DEBUG (`make run`) and JSON otherwise.
LOG_FORMAT = env_str("LOG_FORMAT") or ("plain" if DEBUG else "json")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "atmr.logs.ContextFilter"}},
    "formatters": {
        "json": {"()": "atmr.logs.JsonFormatter"},
        "plain": {"format": "%(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # httpx logs every OSRM request at INFO: thousands of lines per dispatch run.
        "httpx": {"level": "WARNING"},
        # Django's default config gives "django" its own console handler (DEBUG only) besides
        # the root's, so every 4xx ("Not Found: /api/...") was printed twice. One handler: root.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING
