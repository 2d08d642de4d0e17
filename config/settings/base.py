"""Settings shared by every environment, read from the environment (12-factor).

`local` (the embedded default used by `make run`), `test` and `production` are thin layers over
this module. Nothing secret has a default here: secrets come from the environment only.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
env.smart_cast = False

SECRET_KEY = env.str("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "auditlog",  # before core: core.admin replaces the admin page auditlog registers
    "core",
    "crm",
    "messaging",
    "analytics",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    "core.middleware.QueryStringNulMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.audit.AuditContextMiddleware",
    # Marks sessions verified by a second factor; ours then keeps unverified ones out.
    "django_otp.middleware.OTPMiddleware",
    "core.mfa.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Axes must be last: it turns lock-outs raised by the backend into responses.
    "axes.middleware.AxesMiddleware",
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
                "core.context_processors.staff_navigation",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
# SQLite (WAL, immediate transactions so concurrent writers queue instead of failing) unless
# DATABASE_URL points elsewhere. PostgreSQL keeps connections open between requests.
DATABASE_URL = env.str("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'parley.sqlite3'}")
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and broker ----------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "parley",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Celery ------------------------------------------------------------------------------
# Without REDIS_URL a real worker still runs, on kombu's filesystem transport (embedded mode).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost//")
CELERY_BROKER_FOLDER = Path(env.str("CELERY_BROKER_FOLDER", default=str(VAR_DIR / "broker")))
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# The longest task may run for CELERY_TASK_TIME_LIMIT; an unacknowledged message is only
# redelivered after the visibility timeout, which must therefore be longer than any task.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
# Workers write a heartbeat row this often; one silent for the stale time counts as down.
WORKER_HEARTBEAT_INTERVAL = env.float("WORKER_HEARTBEAT_INTERVAL", default=10.0)
WORKER_HEARTBEAT_STALE_SECONDS = env.float("WORKER_HEARTBEAT_STALE_SECONDS", default=45.0)
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=0) or None
# A periodic task that fails pauses for its beat interval, doubled per failure in a row up to
# this (s; 0: no pause), so a broken one neither floods the log nor hammers what is failing.
PERIODIC_TASK_BACKOFF_MAX_SECONDS = env.int("PERIODIC_TASK_BACKOFF_MAX_SECONDS", default=600)

# --- Metrics and error reports (README "Metrics and error reports") -----------------------
# `GET /metrics` answers a scraper that sends `Authorization: Bearer <METRICS_TOKEN>` and/or
# calls from METRICS_ALLOWED_NETWORKS (CIDRs; the client address as TRUSTED_PROXY_COUNT finds
# it); with both set a scrape needs both, with neither the endpoint is not exposed (404).
# Multiprocess mode is PROMETHEUS_MULTIPROC_DIR in the environment (read by prometheus-client).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
# Error reports go to Sentry only when SENTRY_DSN is set; secrets are scrubbed before sending
# (core.error_reports). The environment defaults to the settings module's name.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str(
    "SENTRY_ENVIRONMENT",
    default=os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local").rsplit(".", 1)[-1],
)
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default="")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if SENTRY_DSN:
    from core.error_reports import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        release=SENTRY_RELEASE or None,
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    )

# --- Auth --------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "staff:home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 8)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Behind N proxies (load balancers) that each append to X-Forwarded-For, the client is the N-th
# address from the right; 0: no proxy, REMOTE_ADDR. Lock-outs and the audit log both use it.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "core.addresses.client_address"
# The cool-off counts from the lock-out: attempts refused during it do not start it again.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False

# --- Audit log (django-auditlog, storage core.AuditEvent; README "Audit log") -------------
AUDITLOG_LOGENTRY_MODEL = "core.AuditEvent"
# auditlog's own migrations only create its LogEntry table, which core.AuditEvent replaces;
# run, they would leave a content type and permissions for a model that does not exist
# (and a restore after `flush` would then miss them).
MIGRATION_MODULES = {"auditlog": None}
AUDITLOG_STORE_JSON_CHANGES = True
AUDITLOG_DISABLE_ON_RAW_SAVE = True  # fixtures and restores are not anyone's edits
AUDITLOG_CID_GETTER = "core.audit_context.request_id"
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)

# Two-factor sign-in (README "Two-factor sign-in"): roles (names from core/roles.py) whose users
# must use it. None in the embedded demo; production defaults to ["Admin"]. Users who enrolled
# verify every session whatever their role.
STAFF_2FA_REQUIRED_ROLES = env.list("STAFF_2FA_REQUIRED_ROLES", default=[])
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Parley")
# Seconds to wait after the n-th wrong code in a row: factor * 2**(n-1) (django-otp's throttle).
OTP_TOTP_THROTTLE_FACTOR = env.int("OTP_THROTTLE_FACTOR", default=1)
OTP_STATIC_THROTTLE_FACTOR = OTP_TOTP_THROTTLE_FACTOR

# --- Content-Security-Policy: nothing from other origins, no inline script -------------------
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# --- I18N --------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
# One way of writing dates and times on every page: config/formats/en/formats.py.
FORMAT_MODULE_PATH = ["config.formats"]

# --- Static files ------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"

# --- API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "core.api.permissions.ModelPermissions",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.CappedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "core.api.filters.SearchFilter",
        "core.api.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="6000/min"),
        "send": env.str("API_THROTTLE_SEND", default="3000/min"),
        "bulk": env.str("API_THROTTLE_BULK", default="60/min"),
        "reporting": env.str("API_THROTTLE_REPORTING", default="600/min"),
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# The most rows one API page returns, whatever `limit` asks; exports are the way to get everything.
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=200)
SPECTACULAR_SETTINGS = {
    "TITLE": "Parley API",
    "DESCRIPTION": (
        "WhatsApp Business engagement: messages, contacts, campaigns, notifications and "
        "reporting. Authenticate with `Authorization: Token <key>` (tokens are created by "
        "admins) or a staff session. Lists are paged with `limit`/`offset`; a page holds at "
        "most API_MAX_PAGE_SIZE rows (200 by default) whatever `limit` asks: to get "
        "everything, use the exports (contacts, segments), which need their own permission."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "SendTypeEnum": "messaging.sending.send.SENDABLE_TYPE_CHOICES",
        "MessageTypeEnum": "messaging.models.MessageType",
        "DirectionEnum": "messaging.models.Direction",
        "ConsentEnum": "crm.models.Consent",
        "ConversionTypeEnum": "analytics.models.events.ConversionType",
        "HealthSourceEnum": "messaging.channels.models.HealthSource",
        "HookEventEnum": "messaging.hooks_out.models.HookEvent",
        "WebhookDeliveryStateEnum": "messaging.hooks_out.models.DeliveryState",
    },
}

# --- WhatsApp ----------------------------------------------------------------------------
WHATSAPP_GRAPH_URL = env.str("WHATSAPP_GRAPH_URL", default="https://graph.facebook.com")
WHATSAPP_API_VERSION = env.str("WHATSAPP_API_VERSION", default="v25.0")
WHATSAPP_BUSINESS_ACCOUNT_ID = env.str("WHATSAPP_BUSINESS_ACCOUNT_ID", default="")
WHATSAPP_PHONE_NUMBER_ID = env.str("WHATSAPP_PHONE_NUMBER_ID", default="")
WHATSAPP_DISPLAY_PHONE_NUMBER = env.str("WHATSAPP_DISPLAY_PHONE_NUMBER", default="")
WHATSAPP_API_TOKEN = env.str("WHATSAPP_API_TOKEN", default="")
WHATSAPP_APP_SECRET = env.str("WHATSAPP_APP_SECRET", default="")
# The Meta app's id: template media header examples go through its resumable upload.
WHATSAPP_APP_ID = env.str("WHATSAPP_APP_ID", default="")
WHATSAPP_WEBHOOK_VERIFY_TOKEN = env.str("WHATSAPP_WEBHOOK_VERIFY_TOKEN", default="")
# Fields read from Graph `GET /{phone_number_id}` by `sync_channels` (empty: the provider's list).
WHATSAPP_PHONE_NUMBER_FIELDS = env.str("WHATSAPP_PHONE_NUMBER_FIELDS", default="")
MYOPERATOR_API_KEY = env.str("MYOPERATOR_API_KEY", default="")
MYOPERATOR_COMPANY_ID = env.str("MYOPERATOR_COMPANY_ID", default="")
SIMULATOR_WEBHOOK_URL = env.str("SIMULATOR_WEBHOOK_URL", default="")
# Seconds the simulator takes to approve (or reject) a template created or edited in Parley.
SIMULATOR_TEMPLATE_REVIEW_DELAY = env.float("SIMULATOR_TEMPLATE_REVIEW_DELAY", default=5.0)
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="IN")

# --- Logging -----------------------------------------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logging.RequestIdFilter"}},
    "formatters": {
        "text": {
            "format": "%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s",
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "urllib3": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"] = ["rest_framework.permissions.IsAuthenticated"]
SPECTACULAR_SETTINGS["SERVE_AUTHENTICATION"] = [
    "rest_framework.authentication.SessionAuthentication",
    "core.api.authentication.ApiTokenAuthentication",
]

# --- Sending -----------------------------------------------------------------------------
SEND_MAX_ATTEMPTS = env.int("SEND_MAX_ATTEMPTS", default=6)
SEND_RETRY_BASE_SECONDS = env.float("SEND_RETRY_BASE_SECONDS", default=2.0)
SEND_RETRY_MAX_DELAY_SECONDS = env.float("SEND_RETRY_MAX_DELAY_SECONDS", default=300.0)
SEND_BATCH_SIZE = env.int("SEND_BATCH_SIZE", default=200)
SEND_CONCURRENCY = env.int("SEND_CONCURRENCY", default=16)
SEND_TASK_MAX_SECONDS = env.float("SEND_TASK_MAX_SECONDS", default=30.0)
# Workers book send slots at most this far ahead; a campaign pause takes effect within it.
SEND_RATE_HORIZON_SECONDS = env.float("SEND_RATE_HORIZON_SECONDS", default=1.0)
SEND_BULK_SHARE = env.float("SEND_BULK_SHARE", default=0.8)  # the rest is kept for replies
SEND_RECIPIENT_MIN_GAP_SECONDS = env.float("SEND_RECIPIENT_MIN_GAP_SECONDS", default=1.0)
SEND_CLAIM_STALE_SECONDS = env.int("SEND_CLAIM_STALE_SECONDS", default=180)
# An `unknown` send no status webhook settled within this many hours becomes unconfirmed.
SEND_UNKNOWN_SETTLE_HOURS = env.float("SEND_UNKNOWN_SETTLE_HOURS", default=24.0)
PROVIDER_CONNECT_TIMEOUT = env.float("PROVIDER_CONNECT_TIMEOUT", default=3.05)
PROVIDER_READ_TIMEOUT = env.float("PROVIDER_READ_TIMEOUT", default=10.0)
MEDIA_URL_ALLOW_PRIVATE = env.bool("MEDIA_URL_ALLOW_PRIVATE", default=False)
# A channel's own API base URL passes the same SSRF guard: private and loopback hosts only when
# this is on (the local demo's simulator; `bin/run` turns MEDIA_URL_ALLOW_PRIVATE on, and this
# follows it unless set). WHATSAPP_GRAPH_URL is the operator's own setting and is not checked.
PROVIDER_URL_ALLOW_PRIVATE = env.bool("PROVIDER_URL_ALLOW_PRIVATE", default=MEDIA_URL_ALLOW_PRIVATE)
# The settings a channel may name as its access token, app secret or company id: anything else
# (SECRET_KEY, DATABASE_URL, LANGUAGE_CODE...) is refused when saved and reads as no secret.
CHANNEL_SECRET_SETTING_PATTERNS = ("WHATSAPP_*", "MYOPERATOR_*")
# `seed_demo` and `create_demo_users` make staff accounts with published passwords: allowed in
# the local demo and tests, refused under the production settings (README "Security notes").
DEMO_DATA_ALLOWED = env.bool("DEMO_DATA_ALLOWED", default=True)

# --- Webhooks ---------------------------------------------------------------------------------
# Meta documents payloads of up to ~3 MB; the intake reads at most this many bytes itself
# (Django's DATA_UPLOAD_MAX_MEMORY_SIZE never applies because request.body is not used).
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=3 * 1024 * 1024)
# The lean intake (messaging/webhooks/asgi.py): a body must arrive within this many seconds
# (else 408), and its commit finish within this many (else 503, Meta retries); one commit
# holds at most WEBHOOK_GROUP_COMMIT_MAX bodies (messaging/webhooks/group_commit.py).
WEBHOOK_BODY_TIMEOUT_SECONDS = env.float("WEBHOOK_BODY_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_COMMIT_TIMEOUT_SECONDS = env.float("WEBHOOK_COMMIT_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_GROUP_COMMIT_MAX = env.int("WEBHOOK_GROUP_COMMIT_MAX", default=500)
WEBHOOK_WRITER_THREADS = env.int("WEBHOOK_WRITER_THREADS", default=2)
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=30)
# The sweeper re-drives events still pending this long after arrival (a lost broker message).
WEBHOOK_SWEEP_AFTER_SECONDS = env.float("WEBHOOK_SWEEP_AFTER_SECONDS", default=5.0)
# Workers claim pending events this many at a time and apply them in one transaction.
WEBHOOK_BATCH_SIZE = env.int("WEBHOOK_BATCH_SIZE", default=500)
# One drain task works at most this long before handing over to a fresh one.
WEBHOOK_DRAIN_SECONDS = env.float("WEBHOOK_DRAIN_SECONDS", default=30.0)
# Intake publishes at most one drain request per this many seconds while one is queued.
WEBHOOK_NUDGE_SECONDS = env.float("WEBHOOK_NUDGE_SECONDS", default=10.0)
# A drain task keeps claiming at least this long, so web processes can skip the "drain
# requested" check for half of it after seeing the flag set (see webhook_drain_nudge).
WEBHOOK_DRAIN_LINGER_SECONDS = env.float("WEBHOOK_DRAIN_LINGER_SECONDS", default=0.3)
# An event whose processing hit a database error this many times is marked failed.
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
# --- Event webhooks to integrators (messaging.hooks_out) ---------------------------------------
# Connect and read timeout of one callback, and the cap on its whole exchange: a slow receiver
# never holds a worker longer than this.
WEBHOOK_OUT_TIMEOUT_SECONDS = env.float("WEBHOOK_OUT_TIMEOUT_SECONDS", default=5.0)
# A delivery is retried with exponential backoff and full jitter for at least this long.
WEBHOOK_OUT_MAX_ATTEMPT_HOURS = max(24.0, env.float("WEBHOOK_OUT_MAX_ATTEMPT_HOURS", default=48.0))
# The longest pause between two attempts of one delivery.
WEBHOOK_OUT_BACKOFF_MAX_SECONDS = env.int("WEBHOOK_OUT_BACKOFF_MAX_SECONDS", default=3600)
# A subscription whose receiver has failed without a success for this long is disabled.
WEBHOOK_OUT_DISABLE_AFTER_HOURS = env.float("WEBHOOK_OUT_DISABLE_AFTER_HOURS", default=72.0)
# Deliveries one drain claims at a time, and how many it sends at once.
WEBHOOK_OUT_BATCH = env.int("WEBHOOK_OUT_BATCH", default=200)
WEBHOOK_OUT_CONCURRENCY = env.int("WEBHOOK_OUT_CONCURRENCY", default=16)
# One drain task works at most this long before handing over to a fresh one.
WEBHOOK_OUT_DRAIN_SECONDS = env.float("WEBHOOK_OUT_DRAIN_SECONDS", default=30.0)
# What receivers are told to accept (README "Event webhooks"): a signature older than this is
# a replay. Parley signs at send time, so its own clock only has to be right.
WEBHOOK_OUT_SIGNATURE_TOLERANCE_SECONDS = env.int(
    "WEBHOOK_OUT_SIGNATURE_TOLERANCE_SECONDS", default=300
)
# Delivered and given-up deliveries are kept this long for the log and replays.
WEBHOOK_OUT_RETENTION_DAYS = env.int("WEBHOOK_OUT_RETENTION_DAYS", default=30)
# Receivers on private or loopback addresses (any port): the local demo and tests only.
WEBHOOK_OUT_ALLOW_PRIVATE = env.bool("WEBHOOK_OUT_ALLOW_PRIVATE", default=MEDIA_URL_ALLOW_PRIVATE)
# Inbound text equal to one of these (case and spacing ignored) changes marketing consent.
OPT_OUT_KEYWORDS = env.list("OPT_OUT_KEYWORDS", default=["STOP", "UNSUBSCRIBE", "STOP ALL"])
OPT_IN_KEYWORDS = env.list("OPT_IN_KEYWORDS", default=["START", "UNSTOP"])
# Template quick-reply buttons that opt a contact out of marketing when tapped, matched against
# the tap's text and payload (case and spacing ignored): Meta's marketing opt-out button says
# "Stop promotions"; list here the opt-out buttons of templates made elsewhere (or in other
# languages). Buttons of synced MARKETING templates with these texts are marked at sync.
MARKETING_OPT_OUT_BUTTONS = env.list(
    "MARKETING_OPT_OUT_BUTTONS", default=["Stop promotions", "Stop Promotions", "STOP"]
)
CONSENT_CONFIRMATION_REPLIES = env.bool("CONSENT_CONFIRMATION_REPLIES", default=False)
OPT_OUT_CONFIRMATION_TEXT = env.str(
    "OPT_OUT_CONFIRMATION_TEXT",
    default="You will no longer receive marketing messages from us. Reply START to resume.",
)
OPT_IN_CONFIRMATION_TEXT = env.str(
    "OPT_IN_CONFIRMATION_TEXT",
    default="You are subscribed to our messages again. Reply STOP to unsubscribe.",
)
# MyOperator webhooks: `Authorization: Bearer <token>` when set, else an HMAC of the body
# keyed with MYOPERATOR_API_KEY (X-MyOperator-Signature).
MYOPERATOR_WEBHOOK_TOKEN = env.str("MYOPERATOR_WEBHOOK_TOKEN", default="")

# --- Contacts: imports ------------------------------------------------------------------------
# Uploads above this size are refused before they are stored.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=50 * 1024 * 1024)
# Rows written per transaction; each batch commits its rows with the job's checkpoint. A batch
# has a fixed cost of about 35 ms (its transaction, checkpoint and staging tables, measured in
# bench/import_contacts.py): 5,000-row batches pay it once per 5,000 rows, holding a few MB.
IMPORT_BATCH_SIZE = env.int("IMPORT_BATCH_SIZE", default=5000)
# One task works this long, then queues its continuation (keeps tasks under the time limit).
IMPORT_TASK_MAX_SECONDS = env.float("IMPORT_TASK_MAX_SECONDS", default=120.0)
# A running job whose heartbeat is older than this is taken over by the resume sweeper.
IMPORT_STALE_SECONDS = env.int("IMPORT_STALE_SECONDS", default=120)
# JSON imports: the largest single record and the deepest nesting accepted.
IMPORT_JSON_MAX_RECORD_BYTES = env.int("IMPORT_JSON_MAX_RECORD_BYTES", default=64 * 1024)
IMPORT_JSON_MAX_DEPTH = env.int("IMPORT_JSON_MAX_DEPTH", default=4)

# --- Campaigns ---------------------------------------------------------------------------
# The business portfolio's unique-recipient limit per 24 hours (Meta's messaging limit tier).
MESSAGING_UNIQUE_RECIPIENT_LIMIT = env.int("MESSAGING_UNIQUE_RECIPIENT_LIMIT", default=100_000)
CAMPAIGN_AUTOPAUSE_WINDOW = env.int("CAMPAIGN_AUTOPAUSE_WINDOW", default=50)
CAMPAIGN_AUTOPAUSE_FAILURE_SHARE = env.float("CAMPAIGN_AUTOPAUSE_FAILURE_SHARE", default=0.5)
CAMPAIGN_MAX_DRAINERS = env.int("CAMPAIGN_MAX_DRAINERS", default=4)

# --- Operations -------------------------------------------------------------------------------
# Backups (`manage.py backup`, the operations page) are written here; admins download them.
# 0700, archives 0600. The `backup` job runs daily at 02:00 UTC (a beat row: edit its crontab
# in the admin) and then keeps the newest BACKUP_KEEP archives of BACKUP_DIR.
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(VAR_DIR / "backups")))
BACKUP_KEEP = env.int("BACKUP_KEEP", default=7)
# Uploaded and downloaded media (MEDIA_ROOT) go into the archive too.
BACKUP_INCLUDE_MEDIA = env.bool("BACKUP_INCLUDE_MEDIA", default=True)
# The operations centre warns when the last successful backup is older than this (or none).
BACKUP_MAX_AGE_HOURS = env.float("BACKUP_MAX_AGE_HOURS", default=24)
# Retention, applied by the nightly `purge_data` job (WEBHOOK_RETENTION_DAYS covers raw webhooks).
HEALTH_SAMPLE_RETENTION_DAYS = env.int("HEALTH_SAMPLE_RETENTION_DAYS", default=7)
JOB_RETENTION_DAYS = env.int("JOB_RETENTION_DAYS", default=30)
APP_ERROR_RETENTION_DAYS = env.int("APP_ERROR_RETENTION_DAYS", default=30)
# Message bodies and media older than this are redacted (status, times, template, campaign and
# cost stay for analytics); 0 keeps them forever. Imported files and their error rows go after
# UPLOAD_RETENTION_DAYS (0: kept). Both nightly, in batches of RETENTION_BATCH rows.
MESSAGE_RETENTION_DAYS = env.int("MESSAGE_RETENTION_DAYS", default=365)
UPLOAD_RETENTION_DAYS = env.int("UPLOAD_RETENTION_DAYS", default=30)
RETENTION_BATCH = env.int("RETENTION_BATCH", default=1000)
# Key of the hashes an erased contact keeps of its phone, WhatsApp id and BSUID (crm.identity);
# empty: derived from SECRET_KEY. Set it in production and keep it: a new key stops erased
# numbers that opted out from being recognised.
ERASURE_HASH_KEY = env.str("ERASURE_HASH_KEY", default="")
# A running job silent (no log, no progress) this long is marked failed, which frees its lock.
JOB_STALE_SECONDS = env.int("JOB_STALE_SECONDS", default=900)
# Celery time limit of one job run (backups of large databases take a while).
JOB_TIME_LIMIT = env.int("JOB_TIME_LIMIT", default=3 * 3600)
# Health page: provider probe timeout, how long windowed figures are cached, alert thresholds.
OPS_PROBE_TIMEOUT = env.float("OPS_PROBE_TIMEOUT", default=2.0)
OPS_HEALTH_CACHE_SECONDS = env.int("OPS_HEALTH_CACHE_SECONDS", default=10)
OPS_HEALTH_POLL_SECONDS = env.int("OPS_HEALTH_POLL_SECONDS", default=5)
OPS_BEAT_STALE_SECONDS = env.int("OPS_BEAT_STALE_SECONDS", default=600)
OPS_WEBHOOK_LAG_WARN_SECONDS = env.int("OPS_WEBHOOK_LAG_WARN_SECONDS", default=60)
OPS_QUEUE_AGE_WARN_SECONDS = env.int("OPS_QUEUE_AGE_WARN_SECONDS", default=300)
# Error records captured into the database per process and minute (the rest only go to stderr).
APP_ERROR_MAX_PER_MINUTE = env.int("APP_ERROR_MAX_PER_MINUTE", default=120)
LOGGING["handlers"]["database"] = {
    "class": "analytics.ops.logging.AppErrorHandler",
    "level": "ERROR",
    "filters": ["request_id"],
}
LOGGING["root"]["handlers"].append("database")

# --- Content and notifications ----------------------------------------------------------------
# The day's approved content goes out at this local time (HH:MM) in CONTENT_TIME_ZONE. The beat
# row is written by a migration; `manage.py distribute_content --reschedule` re-applies these.
CONTENT_DISTRIBUTION_TIME = env.str("CONTENT_DISTRIBUTION_TIME", default="08:00")
CONTENT_TIME_ZONE = env.str("CONTENT_TIME_ZONE", default=TIME_ZONE)
# A JSON list, RSS 2.0 or Atom feed whose entries become content drafts (empty: no feed).
CONTENT_FEED_URL = env.str("CONTENT_FEED_URL", default="")
CONTENT_FEED_MAX_BYTES = env.int("CONTENT_FEED_MAX_BYTES", default=2 * 1024 * 1024)
CONTENT_FEED_TIMEOUT = env.float("CONTENT_FEED_TIMEOUT", default=10.0)
CONTENT_FEED_MAX_ITEMS = env.int("CONTENT_FEED_MAX_ITEMS", default=200)
# Tracked links (`/l/<token>`) are built on this base; set it to the public https address.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

# --- Inbox and automation ---------------------------------------------------------------------
# Office hours for the "outside office hours" auto-reply trigger: day ranges and times, several
# specs separated by ";" (e.g. "Mon-Fri 09:00-18:00; Sat 10:00-14:00"), in OFFICE_TIME_ZONE.
OFFICE_HOURS = env.str("OFFICE_HOURS", default="Mon-Fri 09:00-18:00")
OFFICE_TIME_ZONE = env.str("OFFICE_TIME_ZONE", default="Asia/Kolkata")
# The FAQ responder answers when its best match scores at least this (0..1).
FAQ_MATCH_THRESHOLD = env.float("FAQ_MATCH_THRESHOLD", default=0.5)
# FAQ and AI responders stay quiet while an agent replied to the contact this recently.
AUTOREPLY_AGENT_ACTIVE_MINUTES = env.int("AUTOREPLY_AGENT_ACTIVE_MINUTES", default=30)
# The optional AI responder: an OpenAI-compatible chat completions endpoint (full URL, from
# settings only), its API key (secret, never logged) and model. Off unless enabled.
AI_RESPONDER_ENABLED = env.bool("AI_RESPONDER_ENABLED", default=False)
AI_RESPONDER_URL = env.str("AI_RESPONDER_URL", default="")
AI_RESPONDER_API_KEY = env.str("AI_RESPONDER_API_KEY", default="")
AI_RESPONDER_MODEL = env.str("AI_RESPONDER_MODEL", default="gpt-4o-mini")
AI_RESPONDER_TIMEOUT = env.float("AI_RESPONDER_TIMEOUT", default=8.0)
# Answers the model is less sure of than this are left for an agent.
AI_RESPONDER_MIN_CONFIDENCE = env.float("AI_RESPONDER_MIN_CONFIDENCE", default=0.6)
# Inbox: media uploads from the reply box (WhatsApp's own per-type limits apply as well).
INBOX_UPLOAD_MAX_BYTES = env.int("INBOX_UPLOAD_MAX_BYTES", default=16 * 1024 * 1024)

# --- Media library (README "Media library") -----------------------------------------------------
# A cap below WhatsApp's own per-type limits (image 5 MB, video and audio 16 MB, documents
# 100 MB, stickers 500 KB), applied to every library upload.
MEDIA_LIBRARY_MAX_BYTES = env.int("MEDIA_LIBRARY_MAX_BYTES", default=100 * 1024 * 1024)

# --- Web server (config/asgi.py, config/gunicorn.py) ---------------------------------------
# Django's views run in WEB_THREADS threads per worker process, each given a request only once
# its body has arrived: bodies are buffered by the event loop (413 past WEB_MAX_BODY_BYTES, 408
# when no byte arrives for WEB_BODY_IDLE_SECONDS).
WEB_THREADS = env.int("WEB_THREADS", default=8)
WEB_MAX_BODY_BYTES = env.int(
    "WEB_MAX_BODY_BYTES", default=max(IMPORT_MAX_BYTES, MEDIA_LIBRARY_MAX_BYTES) + 1024 * 1024
)
WEB_BODY_IDLE_SECONDS = env.float("WEB_BODY_IDLE_SECONDS", default=30.0)
# How long the Cloud API keeps an uploaded media id usable, and how long before that a send
# uploads the file again instead of using it.
MEDIA_ID_TTL_DAYS = env.int("MEDIA_ID_TTL_DAYS", default=30)
MEDIA_ID_RENEW_MARGIN_HOURS = env.int("MEDIA_ID_RENEW_MARGIN_HOURS", default=24)
# The nightly renewal uploads again the ids (expiring within twice the margin) of assets a send
# used within this many days; others are uploaded when a send next needs them.
MEDIA_RENEW_USED_WITHIN_DAYS = env.int("MEDIA_RENEW_USED_WITHIN_DAYS", default=14)
# Concurrent senders of one asset on one number wait this long for one upload.
MEDIA_UPLOAD_LOCK_SECONDS = env.int("MEDIA_UPLOAD_LOCK_SECONDS", default=60)
INBOX_POLL_SECONDS = env.int("INBOX_POLL_SECONDS", default=3)
# The satisfaction survey sent after a close, on numbers that opted in (at most 1024 characters).
INBOX_SURVEY_QUESTION = env.str(
    "INBOX_SURVEY_QUESTION",
    default="Thanks for talking to us! How would you rate the help you got today?",
)

# --- Analytics --------------------------------------------------------------------------------
# Days are cut at midnight in this time zone (dashboards, rollups, the inbox metrics).
ANALYTICS_TIME_ZONE = env.str("ANALYTICS_TIME_ZONE", default=TIME_ZONE)
# Conversions: last touch by a delivered campaign, content or notification message within
# this many days before the conversion (README "Analytics").
ATTRIBUTION_WINDOW_DAYS = env.int("ATTRIBUTION_WINDOW_DAYS", default=7)
# Money is reported in this currency; conversions and message costs (the price card's
# currency, README "Message costs") in another currency are
# converted with ANALYTICS_EXCHANGE_RATES (units of the reporting currency per unit, e.g.
# "USD=83.2,EUR=90.1"); a conversion in a currency without a rate is refused.
ANALYTICS_CURRENCY = env.str("ANALYTICS_CURRENCY", default="INR")
ANALYTICS_EXCHANGE_RATES = env.dict("ANALYTICS_EXCHANGE_RATES", default={})
# Conversion types whose value counts as revenue (report a sale once: order or payment).
ANALYTICS_REVENUE_TYPES = env.list(
    "ANALYTICS_REVENUE_TYPES", default=["order", "payment", "subscription", "custom"]
)
# Incremental rollups: besides today and the days marked changed, the last N days get one
# more pass after they ended; the nightly run recomputes all N.
ANALYTICS_ROLLUP_RECENT_DAYS = env.int("ANALYTICS_ROLLUP_RECENT_DAYS", default=3)
# Customer metrics: recomputed nightly, and by the 5-minute run at most this often when new
# conversions arrived.
ANALYTICS_CUSTOMER_REFRESH_MINUTES = env.int("ANALYTICS_CUSTOMER_REFRESH_MINUTES", default=60)
ANALYTICS_ENGAGEMENT_DAYS = env.int("ANALYTICS_ENGAGEMENT_DAYS", default=90)
# Customer tiers by lifetime value (reporting currency): VIP, gold, silver, else bronze.
VIP_LIFETIME_VALUE = env.str("VIP_LIFETIME_VALUE", default="50000")
GOLD_LIFETIME_VALUE = env.str("GOLD_LIFETIME_VALUE", default="20000")
SILVER_LIFETIME_VALUE = env.str("SILVER_LIFETIME_VALUE", default="5000")
# Churn risk = days since the last order / the customer's mean gap between orders.
CHURN_RISK_MEDIUM = env.float("CHURN_RISK_MEDIUM", default=1.5)
CHURN_RISK_HIGH = env.float("CHURN_RISK_HIGH", default=3.0)
# One-order customers have no rhythm of their own: this gap (days) stands in for it.
CHURN_DEFAULT_GAP_DAYS = env.int("CHURN_DEFAULT_GAP_DAYS", default=30)
# Dashboards: how often today's figures refresh themselves (seconds).
ANALYTICS_POLL_SECONDS = env.int("ANALYTICS_POLL_SECONDS", default=30)
# A rollup run holds a lock this long at most (it is released when the run ends).
ANALYTICS_ROLLUP_LOCK_SECONDS = env.int("ANALYTICS_ROLLUP_LOCK_SECONDS", default=1800)
# Today's live figures are computed at most this often (seconds), however many dashboards poll.
ANALYTICS_TODAY_CACHE_SECONDS = env.int("ANALYTICS_TODAY_CACHE_SECONDS", default=10)
