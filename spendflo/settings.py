"""Django settings: every deploy-specific value comes from the environment.

`.env.example` lists every variable. `make run` writes a `.env` with generated
secrets the first time; production sets the variables directly.
"""

from __future__ import annotations

from pathlib import Path

import django_stubs_ext
import environ

# Lets models, admins and serializers be subscripted for type checking (ModelAdmin[Model]).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A local .env (written by `make run`) fills in what the process environment lacks.
# The test suite ignores it so that tests never depend on a developer's local values.
if not env.bool("SPENDFLO_IGNORE_DOTENV", default=False):
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env.str("SECRET_KEY")  # required: no default on purpose
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Fernet keys, comma separated: the first encrypts, all decrypt (key rotation).
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY")  # required
COUPA_ALLOWED_HOSTS = env.list(
    "COUPA_ALLOWED_HOSTS", default=["*.coupahost.com", "*.coupacloud.com"]
)
CHROMIUM_PATH = env.str("CHROMIUM_PATH", default="/usr/bin/chromium")

# The procurement providers the integration pages offer (classes, by dotted path).
INTEGRATION_PROVIDERS = ["coupa.provider.CoupaProvider"]
# How outbound connections resolve host names before the address is checked
# (`integrations.netguard`): a callable or its dotted path. Tests resolve without DNS.
OUTBOUND_RESOLVER = "integrations.netguard.system_resolver"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "spendflo.organizations",
    "spendflo.users",
    "spendflo.audit",
    "spendflo.workflows",
    "integrations",
    "coupa",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "spendflo.middleware.ContentSecurityPolicyMiddleware",
    "spendflo.middleware.RefuseNullCharactersMiddleware",
    "integrations.middleware.JobQueueUnavailableMiddleware",
    "spendflo.users.middleware.OrganizationTimeZoneMiddleware",
]

# Pages load everything from the app itself and run no inline script or style
# (spendflo.middleware.ContentSecurityPolicyMiddleware); the API docs need inline ones.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
CONTENT_SECURITY_POLICY_API_DOCS = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
CONTENT_SECURITY_POLICY_API_DOCS_PATHS = ("/api/docs/",)

ROOT_URLCONF = "spendflo.urls"
WSGI_APPLICATION = "spendflo.wsgi.application"
ASGI_APPLICATION = "spendflo.asgi.application"

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
                "spendflo.users.context_processors.navigation",
                "spendflo.workflows.context_processors.notices",
            ],
            "builtins": ["spendflo.organizations.templatetags.display"],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serves the embedded mode: web, worker and beat share one file, so
    # wait for locks instead of failing, and keep readers off the writer's way.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "spendflo",
        }
    }
else:
    # Shared by every process (web, worker, beat): never a per-process cache.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "spendflo_cache",
        }
    }

AUTH_USER_MODEL = "users.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Password checks are throttled (spendflo.users.throttle): after this many failures in a row
# for one email from one address (or from anywhere), attempts are refused unchecked for a
# window that starts at LOGIN_LOCKOUT_SECONDS and doubles with each further failure.
AUTHENTICATION_BACKENDS = ["spendflo.users.backends.ThrottledModelBackend"]
LOGIN_FAILURES_PER_ACCOUNT_IP = env.int("LOGIN_FAILURES_PER_ACCOUNT_IP", default=5)
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=20)
LOGIN_LOCKOUT_SECONDS = env.float("LOGIN_LOCKOUT_SECONDS", default=60.0)
LOGIN_LOCKOUT_MAX_SECONDS = env.float("LOGIN_LOCKOUT_MAX_SECONDS", default=3600.0)
# Password-reset requests per email and per address within the window.
PASSWORD_RESET_PER_EMAIL = env.int("PASSWORD_RESET_PER_EMAIL", default=3)
PASSWORD_RESET_PER_IP = env.int("PASSWORD_RESET_PER_IP", default=20)
PASSWORD_RESET_WINDOW_SECONDS = env.int("PASSWORD_RESET_WINDOW_SECONDS", default=3600)
# Trusted reverse proxies in front of the app: the client's address is then taken from
# X-Forwarded-For (sign-in and password-reset throttling). 0: REMOTE_ADDR.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Password-reset links and notices go by email: SMTP unless DEBUG (console, as `make run`
# sets it). `manage.py check --deploy` warns about a console backend in production
# (spendflo.users.checks): reset links would end up in the logs.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Spendflo <no-reply@localhost>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["spendflo.formats"]

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Security: production-like defaults, relaxed only through the environment.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

REST_FRAMEWORK = {
    # The first class names the scheme of 401 answers' WWW-Authenticate header: a session
    # first would turn anonymous calls into 403s without one.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "spendflo.rest.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "spendflo.rest.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # A job the broker refused answers 503 with a sentence (integrations.jobs); an
    # unexpected error a JSON 500 (spendflo.rest).
    "EXCEPTION_HANDLER": "integrations.api.exception_handler",
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Per API token (or session user): 429 with Retry-After and a sentence (spendflo.rest).
    "DEFAULT_THROTTLE_CLASSES": ["spendflo.rest.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env.str("API_RATE_PER_TOKEN", default="1200/minute")},
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "spendflo.schema.ErrorDocumentingAutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Spendflo Coupa integration API",
    "DESCRIPTION": (
        "Everything the Spendflo pages do for the Coupa integration: connect and validate a "
        "Coupa instance; import its charts of accounts, accounts, suppliers, catalog items and "
        "supporting data, sync them hourly or on demand, and choose what requesters may pick; "
        "build request workflows and map them to Coupa requisition fields; submit purchase "
        "requests, approve or reject them, and follow the Coupa purchase requisitions they "
        "become, with their status and purchase orders. Sign in with a session or a token."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's assets are served locally, not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No online validator badge (it would call validator.swagger.io).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Choice sets sharing a field name ("state", "type") get stable names of their own.
    "ENUM_NAME_OVERRIDES": {
        "WorkflowVersionStateEnum": "spendflo.workflows.models.WorkflowVersion.State",
        "PurchaseRequestStateEnum": "spendflo.workflows.models.PurchaseRequest.State",
        "FormFieldTypeEnum": "spendflo.workflows.models.FormField.Type",
        "MappingSourceEnum": "integrations.models.FieldMapping.Source",
        "CustomFieldTypeEnum": "integrations.models.CustomFieldDefinition.Type",
        "CustomFieldLevelEnum": "integrations.models.CustomFieldDefinition.Level",
        "MappingLevelEnum": ["header", "line"],
        "ConnectionActionEnum": "coupa.connections.selectors.ACTIONS",
    },
}

# Celery: JSON only; late acks for our idempotent tasks; explicit limits.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 4 * 3600}
# The embedded broker's folder: a process tree of its own (the chaos run) keeps its own.
CELERY_BROKER_FOLDER = Path(env.str("CELERY_BROKER_FOLDER", default="") or VAR_DIR / "broker")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        # kombu's exchange tables (default `./control`, beside the code).
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=3000)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=3600)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
COUPA_PR_SYNC_SECONDS = env.float("COUPA_PR_SYNC_SECONDS", default=3600.0)
# The product's own address, for links in emails and in requisitions (the request's link).
SITE_URL = env("SITE_URL", default="").rstrip("/")
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {
        "task": "integrations.worker_heartbeat",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "coupa-reference-sync-hourly": {
        "task": "coupa.reference_sync_all",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    "coupa-reference-reconcile-daily": {
        "task": "coupa.reference_reconcile_all",
        "schedule": 86400.0,
        "options": {"expires": 3600 * 6},
    },
    "coupa-requisition-sync-daily": {
        "task": "coupa.requisition_sync_all",
        "schedule": 86400.0,
        "options": {"expires": 3600 * 6},
    },
    "coupa-requisition-sync-hourly": {
        "task": "coupa.requisition_sync_hourly",
        # Hourly; `make run` shortens it so the demo shows a PO minutes after its request.
        "schedule": COUPA_PR_SYNC_SECONDS,
        "options": {"expires": max(COUPA_PR_SYNC_SECONDS - 60, 30)},
    },
    # Fail (and retry) syncs and validations whose worker died or whose message was lost.
    "coupa-sync-sweep": {
        "task": "coupa.sync_sweep",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "coupa-validation-sweep": {
        "task": "coupa.validation_sweep",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "coupa-requisition-sweep": {
        "task": "coupa.requisition_sweep",
        "schedule": 300.0,
        "options": {"expires": 280},
    },
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# Coupa client (coupa/client/). Tests set the delays near zero.
COUPA_CONNECT_TIMEOUT = env.float("COUPA_CONNECT_TIMEOUT", default=5.0)
COUPA_READ_TIMEOUT = env.float("COUPA_READ_TIMEOUT", default=30.0)
COUPA_RETRY_ATTEMPTS = env.int("COUPA_RETRY_ATTEMPTS", default=8)
COUPA_RETRY_DEADLINE = env.float("COUPA_RETRY_DEADLINE", default=300.0)
COUPA_BACKOFF_BASE = env.float("COUPA_BACKOFF_BASE", default=0.5)
COUPA_BACKOFF_MAX = env.float("COUPA_BACKOFF_MAX", default=30.0)
COUPA_TOKEN_EXPIRY_MARGIN = env.float("COUPA_TOKEN_EXPIRY_MARGIN", default=300.0)
# Pages in flight per walk: about rate x latency is needed to use the whole rate budget.
COUPA_PAGE_CONCURRENCY = env.int("COUPA_PAGE_CONCURRENCY", default=8)
# After a 429 the instance's rate is multiplied by this factor for this many seconds.
COUPA_RATE_PENALTY_FACTOR = env.float("COUPA_RATE_PENALTY_FACTOR", default=0.5)
COUPA_RATE_PENALTY_SECONDS = env.float("COUPA_RATE_PENALTY_SECONDS", default=60.0)

# Requisition creation (coupa/requisitions/push.py): a worker's lease on a requisition
# (longer than one POST plus its lookups), and how long transient failures are retried,
# looking the requisition up before every re-post, before it is reported failed.
COUPA_PUSH_LEASE_SECONDS = env.float("COUPA_PUSH_LEASE_SECONDS", default=300.0)
COUPA_PUSH_DEADLINE = env.float("COUPA_PUSH_DEADLINE", default=600.0)
# A requisition still waiting to be sent this long after it was recorded (its task was
# lost) is queued again by the sweep (beat, every 5 minutes).
COUPA_PUSH_PENDING_AFTER = env.float("COUPA_PUSH_PENDING_AFTER", default=120.0)

# Reference-data syncs (coupa/reference/sync.py).
# A sync that has created, changed or deactivated this many rows of a table has PostgreSQL
# re-read its statistics, and again each time that doubles (importers.refresh_statistics).
COUPA_ANALYZE_AFTER_ROWS = env.int("COUPA_ANALYZE_AFTER_ROWS", default=5000)
# A running sync renews its heartbeat after every page; one silent for longer is taken for
# dead (its worker was killed) and failed by the stale sweep (beat, every minute). Longer
# than one page's retry deadline (COUPA_RETRY_DEADLINE), so a page that is being retried is
# not mistaken for a dead worker.
COUPA_SYNC_STALE_AFTER = env.float("COUPA_SYNC_STALE_AFTER", default=600.0)
# A queued sync no worker picked up within this time (its message was lost) is failed and
# requested again by the sweep.
COUPA_SYNC_QUEUED_STALE_AFTER = env.float("COUPA_SYNC_QUEUED_STALE_AFTER", default=900.0)
# A connection validation not finished this long after it was asked for (the task's hard
# limit is 300 s) is failed and started again by the sweep.
COUPA_VALIDATION_STALE_AFTER = env.float("COUPA_VALIDATION_STALE_AFTER", default=600.0)
# Incremental syncs re-read this much before the watermark (clock skew, late commits).
COUPA_SYNC_OVERLAP = env.float("COUPA_SYNC_OVERLAP", default=300.0)
# Records written per bulk upsert, and the longest a page's records wait to be written.
COUPA_SYNC_FLUSH_RECORDS = env.int("COUPA_SYNC_FLUSH_RECORDS", default=1000)
COUPA_SYNC_FLUSH_SECONDS = env.float("COUPA_SYNC_FLUSH_SECONDS", default=1.0)
# Write imported rows through the portable upsert also on PostgreSQL (slower; for
# comparing the two paths, which must give the same rows and counts).
COUPA_SYNC_PORTABLE_UPSERT = env.bool("COUPA_SYNC_PORTABLE_UPSERT", default=False)
