"""Settings for Fælles forløb, all read from the environment (see README, "Configuration")."""

import os
from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Secure by default: without DJANGO_ENV the settings are production's. `make run` sets development,
# `make test` and `make bench` set test; both keep plain-http cookies for runserver and the live server.
ENVIRONMENTS = ("production", "development", "test")
DJANGO_ENV = os.environ.get("DJANGO_ENV", "production").strip().lower()
if DJANGO_ENV not in ENVIRONMENTS:
    raise ImproperlyConfigured(f"DJANGO_ENV must be one of {', '.join(ENVIRONMENTS)}, not {DJANGO_ENV!r}.")
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env_bool("DJANGO_DEBUG")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set (make run and make test generate one).")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1" if DEBUG else "")
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is on but DJANGO_ENV is production (the default): debug pages would show settings "
        "and patient data. Unset DJANGO_DEBUG, or set DJANGO_ENV=development on a developer's machine."
    )
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS must list the host names the site is served under in production "
        "(comma-separated, e.g. forloeb.example.dk)."
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "csp",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "pgtrigger",
    "pghistory",
    # Our apps in layer order (each imports only the ones above it in this list); seed_demo runs their
    # demo steps in this order.
    "pathways",
    "relatives",
    "coordination",
    "quality",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise, so static files keep their long cache lifetime.
    "config.middleware.NoStoreByDefaultMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.middleware.DanishFirstLocaleMiddleware",
    # Before anything reads the body (CSRF does): a body in another charset, malformed or too large is
    # a clear 4xx in every mode, never the debug page's crash (config/middleware.py).
    "config.middleware.RequestBodyGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Puts the signed-in user and the URL into the context of every audit-trail row the request writes.
    "pghistory.middleware.HistoryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "pathways.signin.middleware.SessionTimeoutMiddleware",
    "pathways.signin.middleware.SecondFactorRequiredMiddleware",
    "pathways.middleware.PermissionDeniedLogMiddleware",
    # Last, as django-axes asks: turns a lock-out during authentication into the lock-out page.
    "axes.middleware.AxesMiddleware",
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
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pathways.views.context_processors.notification_bell",
            ],
        },
    },
    {
        # The portal's own engine (portal.views.base.portal_render, using="portal"): no `request`, no `user`,
        # no messages, no bell, so a portal template cannot reach a model instance (the portal session's
        # patient, a staff user signed in in the same browser) through the context. portal_render gives the
        # template no request at all (it passes the CSRF token and the page's path as plain values), so these
        # processors run only for a render that is given one.
        "NAME": "portal",
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.i18n",
                "django.template.context_processors.static",
            ],
        },
    },
]

# PostgreSQL through psycopg 3. PGHOST may be a socket directory (starts with "/").
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("PGDATABASE", "faelles_forloeb"),
        "USER": os.environ.get("PGUSER", "postgres"),
        "PASSWORD": os.environ.get("PGPASSWORD", ""),
        "HOST": os.environ.get("PGHOST", ""),
        "PORT": os.environ.get("PGPORT", ""),
        "CONN_MAX_AGE": int(os.environ.get("DJANGO_CONN_MAX_AGE", "60")),
        # Without health checks a Postgres restart gave one HTTP 500 per worker (MACHINE.md).
        "CONN_HEALTH_CHECKS": True,
        # No JIT compiling: the pages' and the indicators' queries are short, and compiling one cost more
        # than running it (4.7 of 5.3 s of one indicator's query at 2,000 patients, bench_quality).
        "OPTIONS": {"options": "-c jit=off"},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "pathways.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a sign-in attempt while the account is paused from this address.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, loading the user's organisations and authenticator in the same query.
    "pathways.signin.backends.StaffBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "coordination:start"  # the worklist for coordinators, else the caseload
LOGOUT_REDIRECT_URL = "login"

# Danish first, English second.
LANGUAGE_CODE = "da"
LANGUAGES = [("da", _("Danish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "config" / "locale"]
TIME_ZONE = "Europe/Copenhagen"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / ".var" / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# The audit trail (pathways.models, django-pghistory): database triggers write a snapshot row for every
# insert, update and delete. clock_timestamp() rather than NOW() so events within one transaction keep
# their order; event tables are append-only (protect triggers), and so is the access log.
PGHISTORY_CREATED_AT_FUNCTION = "clock_timestamp()"
PGHISTORY_APPEND_ONLY = True

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

# Celery: JSON only, late acks for idempotent tasks, bounded time.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Work that cannot starve other work: a queue per kind, each served by its own worker (Procfile,
# docker-compose.yml), so a burst of PDFs or a summary refresh never delays a notice. A worker started
# without -Q serves them all (the tests' in-process workers). tests/pathways/test_worker_queues.py checks
# that every task has a queue and that the workers cover them.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = tuple(
    Queue(name) for name in ("notifications", "ingest", "documents", "quality", "celery")
)
CELERY_TASK_ROUTES = {
    # Delivering notices: what a patient, relative or colleague waits for.
    "pathways.tasks.notifications_deliver_due": {"queue": "notifications"},
    "pathways.tasks.notifications_sweep": {"queue": "notifications"},
    # Hospital notices held for the message they follow.
    "pathways.tasks.medcom_release_held": {"queue": "ingest"},
    # Printable plans and letters' PDFs: seconds each, and they come in bursts.
    "pathways.tasks.document_render": {"queue": "documents"},
    "pathways.tasks.documents_sweep": {"queue": "documents"},
    "pathways.tasks.letters_prepare": {"queue": "documents"},
    # The quality dashboard's summary refresh: minutes at national scale.
    "quality.tasks.summaries_refresh": {"queue": "quality"},
    "quality.tasks.summaries_refresh_nightly": {"queue": "quality"},
    "quality.tasks.summaries_sweep": {"queue": "quality"},
    # The rest — the scans that write due notices, pruning — on the default queue ("celery").
}
# All periodic work is declared here, one line per job with when it runs.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Every minute: take back rows of dead workers and deliver every due message (pathways.outbox).
    "outbox-sweep": {"task": "pathways.tasks.notifications_sweep", "schedule": 60.0},
    # Every minute: printable documents whose worker died or whose request was lost are asked for again;
    # letters delivered to the print queue get their PDF (pathways.documents; each claimed atomically).
    "documents-sweep": {"task": "pathways.tasks.documents_sweep", "schedule": 60.0},
    # Every 15 minutes: one notice per overdue task per day to its coordinator (idempotent by day).
    "overdue-scan": {"task": "pathways.tasks.overdue_scan", "schedule": 15 * 60.0},
    # Every 15 minutes: open responsibility disputes climb the escalation ladder (coordination; each
    # step once per dispute, counted in working days).
    "disputes-escalate": {"task": "coordination.tasks.disputes_escalate", "schedule": 15 * 60.0},
    # Every minute: received hospital notices held for an earlier message are applied once their wait is
    # over (pathways.ingest; idempotent per message).
    "medcom-release-held": {"task": "pathways.tasks.medcom_release_held", "schedule": 60.0},
    # Every night at 03:30: notices about citizens without a plan older than MEDCOM_NO_PLAN_KEEP_DAYS go.
    "medcom-prune": {"task": "pathways.tasks.medcom_prune", "schedule": crontab(hour=3, minute=30)},
    # Every morning at 05:45: while a patient is in hospital, the municipality's and the GP's tasks coming
    # due within ADMISSION_HOLD_DAYS are put on hold as the admission's were (pathways.stays; each task
    # once per stay, so safe to run again).
    "stays-hold-coming-due": {
        "task": "pathways.tasks.stays_hold_coming_due",
        "schedule": crontab(hour=5, minute=45),
    },
    # Every hour at :05: the questionnaires due at the plans' milestones are sent with their reminders
    # (quality.services; each milestone asked once, so safe to run again).
    "questionnaires-schedule": {
        "task": "quality.tasks.questionnaires_schedule",
        "schedule": crontab(minute=5),
    },
    # Every hour at :35: questionnaires not answered in time expire; those of ended plans and of relatives
    # no longer following the plan are cancelled, with their reminders (quality.services).
    "questionnaire-requests-expire": {
        "task": "quality.tasks.questionnaire_requests_expire",
        "schedule": crontab(minute=35),
    },
    # Every night at 02:15: the quality dashboard's summary table is refreshed (quality.summaries; one run
    # at a time, joined if one is queued or running).
    "quality-summaries-refresh": {
        "task": "quality.tasks.summaries_refresh_nightly",
        "schedule": crontab(hour=2, minute=15),
    },
    # Every minute: a summary refresh whose worker died is queued again; a lost request is asked again.
    "quality-summaries-sweep": {"task": "quality.tasks.summaries_sweep", "schedule": 60.0},
    # Every hour at :50: the API forgets Idempotency-Keys older than API_IDEMPOTENCY_HOURS.
    "api-keys-expire": {"task": "pathways.tasks.api_keys_expire", "schedule": crontab(minute=50)},
    # Every night at 01:40: the access log and the audit trail get their monthly partitions
    # AUDIT_PARTITIONS_AHEAD_MONTHS ahead, and those older than AUDIT_RETENTION_MONTHS are dropped whole
    # (pathways.partitions; safe to run again).
    "partitions-maintain": {
        "task": "pathways.tasks.partitions_maintain",
        "schedule": crontab(hour=1, minute=40),
    },
}
# The summary refresh (quality.summaries): a run not renewed within the lease is taken back by the sweep.
QUALITY_REFRESH_LEASE_SECONDS = int(os.environ.get("FF_QUALITY_REFRESH_LEASE_SECONDS", "900"))

# Notifications (pathways.outbox, pathways.channels). The defaults are the local sinks `make run` starts.
SITE_URL = os.environ.get("FF_SITE_URL", "http://127.0.0.1:8000")
PORTAL_PATH = "/portal/"  # where patients and relatives read their plan (the portal, issue 14)
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("FF_SMTP_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("FF_SMTP_PORT", "1025"))
EMAIL_HOST_USER = os.environ.get("FF_SMTP_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("FF_SMTP_PASSWORD", "")
EMAIL_USE_TLS = env_bool("FF_SMTP_TLS")
DEFAULT_FROM_EMAIL = os.environ.get("FF_MAIL_FROM", "Fælles forløb <noreply@faelles-forloeb.invalid>")
NOTIFICATION_MESSAGE_ID_DOMAIN = os.environ.get("FF_MESSAGE_ID_DOMAIN", "faelles-forloeb.invalid")
SMS_GATEWAY_URL = os.environ.get("FF_SMS_GATEWAY_URL", "http://127.0.0.1:1026/rest/mtsms")
SMS_GATEWAY_TOKEN = os.environ.get("FF_SMS_GATEWAY_TOKEN", "")
SMS_SENDER = os.environ.get("FF_SMS_SENDER", "Forloeb")
NOTIFICATION_SEND_TIMEOUT = 10.0  # seconds, per e-mail or SMS
NOTIFICATION_MAX_ATTEMPTS = 5
# Longer than the slowest send (2 × the send timeout), short enough that a dead worker's messages go out
# within minutes.
NOTIFICATION_LEASE_SECONDS = int(os.environ.get("FF_NOTIFICATION_LEASE_SECONDS", "300"))
# Printable plans (pathways.documents, issue 15): a worker renders each PDF with WeasyPrint.
# A render not finished within the lease is taken back by the sweeper (its worker died); after
# DOCUMENT_MAX_ATTEMPTS it is failed and shown with a retry button.
DOCUMENT_LEASE_SECONDS = int(os.environ.get("FF_DOCUMENT_LEASE_SECONDS", "300"))
DOCUMENT_MAX_ATTEMPTS = 3
# A document left waiting this long is asked for again (its request to a worker was lost).
DOCUMENT_REQUEUE_SECONDS = int(os.environ.get("FF_DOCUMENT_REQUEUE_SECONDS", "60"))
# How often a page showing a document being made asks for its progress (htmx polling, or a refresh).
DOCUMENT_POLL_SECONDS = 2
# ... at most this many times (≈ 5 minutes): a page left open on a document no worker makes stops asking
# (and stops keeping a portal session awake) and says to look again later.
DOCUMENT_POLL_MAX = 150
# How often an open plan page asks for its responsibility disputes again (coordination, htmx polling).
DISPUTES_POLL_SECONDS = 30

# Transitions and MedCom HospitalNotification ingest (pathways.stays, pathways.ingest).
# An admission puts the municipality's and the GP's open tasks due in this many days on hold (the stay's
# end is not known yet); tasks coming due later while the patient is still in hospital are held as well.
ADMISSION_HOLD_DAYS = int(os.environ.get("FF_ADMISSION_HOLD_DAYS", "14"))
# A notice that arrives before the one it follows (a discharge before its admission) waits this long for
# it, then is applied on its own.
MEDCOM_HOLD_MINUTES = int(os.environ.get("FF_MEDCOM_HOLD_MINUTES", "30"))
# Notices about citizens without a plan are kept this long (the "admissions without a plan" list counts a
# citizen's admissions over the last 12 months), then deleted.
MEDCOM_NO_PLAN_KEEP_DAYS = int(os.environ.get("FF_MEDCOM_NO_PLAN_KEEP_DAYS", "400"))
MEDCOM_MAX_BODY_BYTES = 256 * 1024
# How long the API remembers an Idempotency-Key and its answer (pathways.idempotency): longer than any
# client retries.
API_IDEMPOTENCY_HOURS = int(os.environ.get("FF_API_IDEMPOTENCY_HOURS", "24"))
# The access log and the audit trail (pathways.partitions): kept two years, as sundhed.dk's Min Log keeps a
# citizen's log; partitions are made this many months ahead, so a few missed nights lose nothing.
AUDIT_RETENTION_MONTHS = int(os.environ.get("FF_AUDIT_RETENTION_MONTHS", "24"))
AUDIT_PARTITIONS_AHEAD_MONTHS = int(os.environ.get("FF_AUDIT_PARTITIONS_AHEAD_MONTHS", "3"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    # Deny by default: every API view must be signed in; views narrow further.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON with limits on size and nesting (config/parsers.py); form bodies as curl -d sends them, checked
    # by config.middleware.RequestBodyGuardMiddleware like every form.
    "DEFAULT_PARSER_CLASSES": ["config.parsers.SafeJSONParser", "rest_framework.parsers.FormParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fælles forløb API",
    "DESCRIPTION": "Shared cross-sector pathway plans. Every read is access-checked and logged.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Sign-in security (ASVS 4.0.3 level 2; README "Security").
# Two-step sign-in (TOTP + recovery codes, django-otp): always for administrators and for everyone who
# has set it up; for all staff when this is on. Everyone else is asked once at sign-in.
MFA_REQUIRED_FOR_ALL = env_bool("DJANGO_MFA_REQUIRED_FOR_ALL")
OTP_TOTP_ISSUER = "Fælles forløb"
RECOVERY_CODE_COUNT = 10
# Brute force (ASVS 2.2.1), django-axes: five failures for one account from one address pause that pair
# for 15 minutes; the real user at another address is not locked out by an attacker. Across all
# addresses an account gets at most ACCOUNT_FAILURES_PER_HOUR failed attempts per hour.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_CALLABLE = "pathways.signin.policy.lockout_response"
AXES_VERBOSE = False
ACCOUNT_FAILURES_PER_HOUR = 50
# Sessions (ASVS 3.3.2): 30 minutes idle, 12 hours at most, gone when the browser closes.
SESSION_IDLE_TIMEOUT = timedelta(minutes=30)
SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=12)
SESSION_COOKIE_AGE = int(SESSION_ABSOLUTE_TIMEOUT.total_seconds())
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# The portal (portal/): its own session cookie and table, never the staff session. 30 minutes idle,
# 12 hours at most.
PORTAL_SESSION_COOKIE = "ff_portal"
PORTAL_SESSION_IDLE = timedelta(minutes=30)
PORTAL_SESSION_ABSOLUTE = timedelta(hours=12)  # however busy: as the staff session (ASVS 3.3.2)
# The patient's own access log shows staff by organisation and role; their names only when this is on
# (sundhedsloven § 37 stk. 4 as proposed: names may be withheld for the staff's safety; STANDARDS §5.2-5.3).
PORTAL_SHOW_STAFF_NAMES = env_bool("FF_PORTAL_SHOW_STAFF_NAMES")
PORTAL_ACCESS_LOG_YEARS = 2  # as sundhed.dk's Min Log: reads of the last two years
if AUDIT_RETENTION_MONTHS < 12 * PORTAL_ACCESS_LOG_YEARS or AUDIT_PARTITIONS_AHEAD_MONTHS < 1:
    raise ImproperlyConfigured(
        f"FF_AUDIT_RETENTION_MONTHS must be at least {12 * PORTAL_ACCESS_LOG_YEARS} (the patient's own log "
        "in the portal shows that far back) and FF_AUDIT_PARTITIONS_AHEAD_MONTHS at least 1."
    )
# Asking for a sign-in link: at most this many per address in 15 minutes (more: the same answer, no link).
PORTAL_LINKS_PER_ADDRESS = 3
# ... and this many from one IP address in 15 minutes (limits sending to known addresses, not guessing).
PORTAL_LINKS_PER_IP = 10
# Break the glass: how long an emergency access to a plan outside one's own lasts.
EMERGENCY_ACCESS_DURATION = timedelta(hours=4)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"

if PRODUCTION:
    # "__Host-" cookies are refused by browsers unless Secure, host-only and for the path "/".
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_SECURE = True
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    LANGUAGE_COOKIE_SECURE = True
    # "__Secure-": Secure only; the portal's cookie keeps its own path (/portal/), so not "__Host-".
    PORTAL_SESSION_COOKIE = "__Secure-ff_portal"
    SECURE_HSTS_SECONDS = 365 * 24 * 60 * 60
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_SSL_REDIRECT = True
    # Load balancers and probes call /healthz over plain http inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    if env_bool("DJANGO_BEHIND_TLS_PROXY"):
        # Trust X-Forwarded-Proto only when the proxy in front sets it and strips it from clients.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# No inline script or style anywhere, htmx and the design system from our own static files. The admin
# and the API docs fit this policy too (see config/urls.py and templates/api/).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # django-axes logs every sign-in at INFO; our security events (faelles_forloeb.security) cover it.
        "axes": {"level": "WARNING"},
    },
}
