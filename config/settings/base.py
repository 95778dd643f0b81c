"""Settings shared by every environment.

Everything that differs between machines comes from the environment
(django-environ). With nothing set, Clearline runs embedded: a SQLite file,
Celery tasks run eagerly in-process and a local-memory cache. With
``DATABASE_URL`` and ``REDIS_URL`` set it uses PostgreSQL, Redis and a real
Celery worker and beat.
"""

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Overridden (and required) in production; this default is only for local runs.
SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-only-key-change-me-0123456789abcdef")
# Old secret keys still accepted while rotating (sessions, signed links, and the field-encryption
# keys, which are derived from SECRET_KEY too): see docs/security.md.
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "config.security.ClearlineAdminConfig",  # django.contrib.admin with optional staff OTP
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sitemaps",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "phonenumber_field",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "simple_history",
    "helpline",
    "helpline.site.guides.apps.GuidesConfig",
    "routing",
    "partners",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.security.RequestBodyLimitMiddleware",
    "config.security.NulQueryStringMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "helpline.attribution.VisitMiddleware",
    # After sessions, before common: /es/... is Spanish; every unprefixed URL is English.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "config.staff_time.StaffTimeZoneMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "helpline.site.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, with a health check that needs no round trip while the connection is well.
    DATABASES["default"]["ENGINE"] = "config.postgresql"
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A slow database must not hold a caller on the line: fail fast and let
    # the call path fall back to the default 24/7 line.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=3))
    # A slow (not down) database would otherwise keep the caller in silence until
    # Twilio gives up on us (~15 s); web processes set this so a stuck query fails
    # within seconds and the voice views answer with the fallback line instead.
    # Off by default: migrations and batch jobs may legitimately run longer.
    _statement_timeout_ms = env.int("DATABASE_STATEMENT_TIMEOUT_MS", default=0)
    if _statement_timeout_ms:
        DATABASES["default"]["OPTIONS"]["options"] = f"-c statement_timeout={_statement_timeout_ms}"
else:
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery ---------------------------------------------
REDIS_URL = env("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "TIMEOUT": 300,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Eager Celery still takes a producer from the broker pool on every ``apply_async``; with a bare
    # "memory://" kombu logs "No hostname was supplied" each time, so name the (unused) host.
    CELERY_BROKER_URL = "memory://localhost/"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 60
# A worker killed mid-task leaves the message unacknowledged, so another
# worker runs it again; every task is idempotent for this reason.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# How long an unacknowledged task (its worker died) waits before another worker gets it.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=15 * 60),
    # Publishing with Redis down gives up fast (the sweepers send the work later).
    "socket_connect_timeout": 1,
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# Publishing must not hang a web request when Redis is down.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
# Task modules below the apps' top level (autodiscovery finds only <app>.tasks).
CELERY_IMPORTS = [
    "helpline.retention",
    "helpline.admission.tasks",
    "helpline.calls.tasks",
    "partners.webhooks.tasks",
    "partners.billing.tasks",
]
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "sweep-admission-requests": {
        "task": "helpline.tasks.sweep_admission_requests",
        "schedule": timedelta(minutes=1),
    },
    "monthly-invoices": {
        "task": "partners.tasks.generate_monthly_invoices",
        "schedule": crontab(minute=15, hour=0, day_of_month=1),
    },
    "purge-expired-caller-data": {
        "task": "helpline.retention.purge_expired_caller_data",
        "schedule": crontab(minute=30, hour=3),
    },
    "release-stale-legs": {
        # Frees partners' concurrent-call slots held by legs Twilio never reported the end of.
        "task": "routing.tasks.release_stale_legs",
        "schedule": timedelta(minutes=5),
    },
    "sweep-unbilled-calls": {
        "task": "partners.tasks.sweep_unbilled_calls",
        "schedule": timedelta(minutes=10),
    },
    "guides-past-review": {
        # Weekly list to STAFF_ALERT_EMAILS of published guides past their clinical review date.
        "task": "helpline.site.guides.tasks.email_guides_past_review",
        "schedule": crontab(minute=0, hour=13, day_of_week="mon"),
    },
    "sweep-webhook-deliveries": {
        "task": "partners.tasks.sweep_webhook_deliveries",
        "schedule": timedelta(minutes=2),
    },
}

# --- Auth -----------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "home"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 60 * 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Number of trusted proxies in front of gunicorn; the client address is read
# from X-Forwarded-For accordingly (config.security.client_ip), for lockouts,
# rate limits and the audit log alike.
PROXY_COUNT = env.int("PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "config.security.client_ip"
AXES_LOCKOUT_TEMPLATE = None
AXES_SENSITIVE_PARAMETERS = ["password", "otp_token"]

# Staff admin path is configurable so it is not at a guessable address.
ADMIN_URL = env("ADMIN_URL", default="admin/")
STAFF_REQUIRE_OTP = env.bool("STAFF_REQUIRE_OTP", default=False)

# Callback breaker (helpline/admission/policy.py): more new numbers than this per hour and further new
# ones wait for staff approval; staff are e-mailed (STAFF_ALERT_EMAILS).
ADMISSION_NEW_NUMBERS_PER_HOUR = env.int("ADMISSION_NEW_NUMBERS_PER_HOUR", default=30)

# Partner webhooks go to https and public addresses only (partners/webhook_addresses.py). These two
# exist for tests that deliver to a receiver on loopback; leave them off/empty everywhere else.
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
WEBHOOK_ALLOWED_NETWORKS: list[str] = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])

# --- I18N -----------------------------------------------------------------
# "en", not "en-us": the unprefixed (English) URLs are those of LANGUAGE_CODE exactly.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Staff read times in one zone, with its abbreviation ("Dec 1, 2026, 9:05 AM EST"): the admin
# and staff pages switch to it (config.staff_time); everything is still stored in UTC.
STAFF_TIME_ZONE = env("STAFF_TIME_ZONE", default="America/New_York")
ZoneInfo(STAFF_TIME_ZONE)  # an unknown zone stops the start, not a staff page later
FORMAT_MODULE_PATH = ["config.formats"]

# --- Static ---------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Security headers -----------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
# Any body (form, webhook, JSON API) larger than this is refused with 413 before it is read.
MAX_REQUEST_BODY_BYTES = DATA_UPLOAD_MAX_MEMORY_SIZE
# Error reports never show caller data: all POST values, locals, cookies and query values hidden.
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.security.CallerDataExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "config.security.CallerDataExceptionReporter"
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"admission": "20/hour"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Clearline API",
    "DESCRIPTION": "Partner and intake API of the Clearline addiction-treatment helpline.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI / ReDoc served from our own static files: no CDN (CSP allows only 'self', and it works offline).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Phone numbers ----------------------------------------------------------
PHONENUMBER_DEFAULT_REGION = "US"
PHONENUMBER_DB_FORMAT = "E164"

# --- Twilio -----------------------------------------------------------------
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="AC00000000000000000000000000000000")
# Local default only; production refuses to start without a real token.
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="local-dev-twilio-token")
# Public base URL Twilio uses to reach us (signatures are computed on it).
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
# Override the REST API base (tests and local runs point it at a fake).
TWILIO_API_BASE_URL = env("TWILIO_API_BASE_URL", default="")
TWILIO_CALLER_ID = env("TWILIO_CALLER_ID", default="+18005550100")
# The <Say> voice of each language, named on every <Say>: without one Twilio uses the account's console
# default, and an invalid voice/language pair can make <Say> fail. Defaults are Amazon Polly voices Twilio
# lists for the language (docs: TwiML <Say>, "Twilio-supported Amazon Polly Voices"): Joanna en-US, Mia es-MX.
TWILIO_VOICE_EN = env("TWILIO_VOICE_EN", default="Polly.Joanna")
TWILIO_VOICE_ES = env("TWILIO_VOICE_ES", default="Polly.Mia")
TWILIO_SMS_FROM = env("TWILIO_SMS_FROM", default="+18005550100")

# --- Helpline behaviour -----------------------------------------------------
HELPLINE_NAME = env("HELPLINE_NAME", default="Clearline")
# The default 24/7 line when no partner is eligible or all fail.
FALLBACK_LINE = env("FALLBACK_LINE", default="+18006624357")  # SAMHSA National Helpline
FALLBACK_LINE_NAME = env("FALLBACK_LINE_NAME", default="SAMHSA National Helpline")
CRISIS_LINE = env("CRISIS_LINE", default="988")
DIAL_RING_TIMEOUT_SECONDS = env.int("DIAL_RING_TIMEOUT_SECONDS", default=20)
DIAL_MAX_ATTEMPTS = env.int("DIAL_MAX_ATTEMPTS", default=3)
CALL_ROUTING_DEADLINE_SECONDS = env.int("CALL_ROUTING_DEADLINE_SECONDS", default=120)
AUTO_PAUSE_UNANSWERED_THRESHOLD = env.int("AUTO_PAUSE_UNANSWERED_THRESHOLD", default=3)
AUTO_PAUSE_WINDOW_MINUTES = env.int("AUTO_PAUSE_WINDOW_MINUTES", default=60)
STAFF_ALERT_EMAILS = env.list("STAFF_ALERT_EMAILS", default=[])

# --- Privacy ------------------------------------------------------------------
# Keys for field encryption (django-fernet-encrypted-fields). The first salt
# key encrypts; every listed key decrypts, which is how keys are rotated.
SALT_KEY = env.list("FIELD_ENCRYPTION_SALT_KEYS", default=["local-dev-salt-key"])
# Key for the keyed hash (HMAC-SHA256) used to look callers up without the
# plain number (repeat-caller window, STOP, rate limits).
CALLER_HASH_KEY = env("CALLER_HASH_KEY", default="local-dev-caller-hash-key")
CALLER_DATA_RETENTION_DAYS = env.int("CALLER_DATA_RETENTION_DAYS", default=90)

# --- Email --------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Clearline <no-reply@clearline.invalid>")

# --- Logging --------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "helpline.privacy.RedactingFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
