"""MARS Labs settings, read from the environment (twelve-factor).

Every variable has a default that runs locally with no set-up; README.md has
the table. A bad value or an insecure production start stops the process with
one line that says what to fix, rather than a traceback or a silent default.
"""

import sys
import warnings
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _stop(message):
    """Stop start-up with one readable line (SystemExit prints it to stderr)."""
    sys.exit(f"MARS Labs configuration error: {message}")


def envbool(name, default):
    """A strict boolean: unknown spellings stop start-up instead of meaning False."""
    raw = env.str(name, default=default).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    _stop(f"{name}={raw!r} is not a boolean; use true or false.")


def envint(name, default):
    raw = env.str(name, default=str(default)).strip()
    try:
        return int(raw)
    except ValueError:
        _stop(f"{name}={raw!r} is not a whole number.")


DEBUG = envbool("DEBUG", "true")

_INSECURE_DEV_KEY = "django-insecure-local-development-key-never-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        _stop("SECRET_KEY is required when DEBUG is off (generate one with "
              "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`).")
    SECRET_KEY = _INSECURE_DEV_KEY
elif not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure")):
    _stop("SECRET_KEY is too weak for production: use at least 50 random characters.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    _stop("ALLOWED_HOSTS is required when DEBUG is off (e.g. ALLOWED_HOSTS=labs.example.org).")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    # Sessions live in learners.Session (with their user: one statement per signed-in request),
    # so django.contrib.sessions' own model and table are not used.
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "csp",
    "learners",
    "curriculum",
    "progress",
    "api",
    "mars_labs",  # for its management commands (backup, restore)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # api.middleware.X: Django's / django-csp's X, skipped by token-authenticated /api/ calls
    # (they never use the session, the user, messages or the page CSP; api/middleware.py).
    "api.middleware.SessionMiddleware",
    "api.middleware.LocaleMiddleware",  # Django's, with two unused look-ups skipped for token calls
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "api.middleware.AuthenticationMiddleware",
    # After the two above: on the way out, before SessionMiddleware saves the session.
    "learners.sessions.IdleSessionMiddleware",
    # A signed-in user's profile language wins over the cookie and Accept-Language (LocaleMiddleware).
    "learners.middleware.ProfileLanguageMiddleware",
    "api.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "api.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mars_labs.urls"

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

WSGI_APPLICATION = "mars_labs.wsgi.application"

# --- Database -------------------------------------------------------------
# SQLite is the embedded default; PostgreSQL (psycopg 3) for production.
_DATABASE_ENGINES = {"django.db.backends.sqlite3", "django.db.backends.postgresql"}
try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # environ only *warns* about an unknown scheme; we refuse below
        DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
except Exception as exc:  # environ raises several types for a malformed URL
    _stop(f"DATABASE_URL is not a database URL I understand ({exc}).")
if DATABASES["default"].get("ENGINE") not in _DATABASE_ENGINES:
    _stop("DATABASE_URL must look like sqlite:///path/to/db.sqlite3 or postgres://user@host:5432/name.")

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and envbool("DATABASE_POOL", "false"):
    _stop("DATABASE_POOL is for PostgreSQL; SQLite keeps one connection per process (unset DATABASE_POOL).")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at
    # BEGIN so two writers queue on the busy timeout instead of failing with
    # "database is locked" half-way through a transaction.
    # The WAL is copied back into the database (a checkpoint, by whichever commit crosses the mark)
    # every SQLITE_WAL_AUTOCHECKPOINT pages. SQLite's 1,000 (4 MB) made every ~60th step completion
    # on a district database pay for one; 10,000 (40 MB) writes each hot page (the event table's
    # last pages, index roots, profiles) back once for many commits: 265 -> 353 completions/s
    # (docs/performance.md, "Step completions").
    _wal_autocheckpoint = envint("SQLITE_WAL_AUTOCHECKPOINT", 10000)
    if _wal_autocheckpoint < 100:  # 0 or less would turn checkpoints off: the WAL would grow for ever
        _stop("SQLITE_WAL_AUTOCHECKPOINT must be at least 100 (pages).")
    # ...and a thread of each process copies it back every SQLITE_CHECKPOINT_MS, off the writers'
    # path (mars_labs/sqlite3/checkpoint.py), so the mark above is only a backstop. 0: SQLite's alone.
    _checkpoint_ms = envint("SQLITE_CHECKPOINT_MS", 200)
    if not 0 <= _checkpoint_ms <= 60_000:
        _stop("SQLITE_CHECKPOINT_MS must be from 0 (off) to 60000 (milliseconds).")
    SQLITE_CHECKPOINT_SECONDS = _checkpoint_ms / 1000
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                        f"PRAGMA wal_autocheckpoint={_wal_autocheckpoint};",
    }
elif envbool("DATABASE_POOL", "false"):
    # A psycopg 3 connection pool per process (Django's OPTIONS["pool"]): connections are
    # borrowed per request and returned, so several app servers share PostgreSQL's
    # max_connections. Django refuses a pool with persistent connections, so CONN_MAX_AGE is 0.
    if envint("CONN_MAX_AGE", 0) != 0:
        _stop("DATABASE_POOL=true needs CONN_MAX_AGE=0 (the pool keeps the connections); unset CONN_MAX_AGE.")
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": envint("DATABASE_POOL_MIN_SIZE", 1),
        "max_size": envint("DATABASE_POOL_MAX_SIZE", 4),
        "timeout": envint("DATABASE_POOL_TIMEOUT", 10),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = envint("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("TEST", {})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------
# Local memory by default; redis://127.0.0.1:6379/1 when several app servers share work.
try:
    CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
except Exception as exc:
    _stop(f"CACHE_URL is not a cache URL I understand ({exc}).")
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache":
    # One process's cache (development, a single server): room for every dashboard of a school
    # (~4 KB each, progress/dashboard.py) and the curriculum, instead of Django's default 300 entries.
    CACHES["default"].setdefault("OPTIONS", {}).setdefault("MAX_ENTRIES", 5000)
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # Redis down means cache misses (pages render from the database), not errors: mars_labs/cache.py.
    CACHES["default"]["BACKEND"] = "mars_labs.cache.DegradingRedisCache"
# The cached curriculum (curriculum/cache.py) is rebuilt at least this often, even without an edit.
CURRICULUM_CACHE_SECONDS = envint("CURRICULUM_CACHE_SECONDS", 600)
# Rendered progress pages (the dashboard, the class report) are cached under the learners' progress versions
# (progress/versions.py); this bounds how long a change made behind the engine's back can go unseen.
# 0 turns that cache off.
PROGRESS_CACHE_SECONDS = envint("PROGRESS_CACHE_SECONDS", 600)
if PROGRESS_CACHE_SECONDS < 0:
    _stop("PROGRESS_CACHE_SECONDS must be 0 or more.")

# --- Auth -------------------------------------------------------------------
AUTH_USER_MODEL = "learners.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "progress:home"
LOGOUT_REDIRECT_URL = "login"

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username + address before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend that loads the profile with the user (its preferred_language sets the interface language).
    "learners.backends.ProfileModelBackend",
]

# Brute-force protection (django-axes). A whole school shares one public
# address, so lock the *pair* of username and address, never the address alone.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "learners.lockout.locked_out"
AXES_VERBOSE = False
# Behind a TLS proxy the client address is in X-Forwarded-For (first hop).
AXES_IPWARE_PROXY_COUNT = 1 if envbool("BEHIND_TLS_PROXY", "false") else None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Shared school computers (docs/architecture.md, "Sessions"): a session ends when the
# browser closes, on logout, or after SESSION_COOKIE_AGE seconds with no request (an
# idle timeout: learners/sessions.py re-saves a session in use at most every
# SESSION_REFRESH_SECONDS, instead of SESSION_SAVE_EVERY_REQUEST's write per request).
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 20 * 60)
SESSION_REFRESH_SECONDS = envint("SESSION_REFRESH_SECONDS", 2 * 60)
if not 0 < SESSION_REFRESH_SECONDS < SESSION_COOKIE_AGE:
    _stop("SESSION_REFRESH_SECONDS must be above 0 and below SESSION_COOKIE_AGE (the idle timeout).")
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Django's database sessions, read with one hand-written statement (mars_labs/session_store.py says
# why the database and not cached_db or signed cookies: a logout must end the session everywhere at once).
SESSION_ENGINE = "mars_labs.session_store"

# --- Internationalisation ----------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("hi", "हिन्दी")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Kolkata")
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Security (production) ----------------------------------------------------
# Where lab simulations may be framed from (the step page's <iframe>), besides this site.
SIMULATION_FRAME_SOURCES = env.list("SIMULATION_FRAME_SOURCES", default=[])
# Content-Security-Policy (django-csp 4): no inline script anywhere, nothing may frame us.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "media-src": [SELF, "https:"],
        "frame-src": [SELF, *SIMULATION_FRAME_SOURCES],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    },
}
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "true")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "true")
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "true")
    if envbool("BEHIND_TLS_PROXY", "false"):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- MARS Labs rules ------------------------------------------------------------
# Each heartbeat adds at most this many seconds of active time (engine.record_active_time).
HEARTBEAT_MAX_SECONDS = envint("HEARTBEAT_MAX_SECONDS", 30)
# Failed attempts at a chapter's quiz that propose a remedial path (progress/paths.py).
REMEDIAL_AFTER_FAILED_ATTEMPTS = envint("REMEDIAL_AFTER_FAILED_ATTEMPTS", 2)

# One JSON object per line on stderr (collectors parse it); audit events at INFO.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "mars_labs.audit.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
    "loggers": {"mars_labs.audit": {"level": "INFO"}},
}

# --- JSON API (api/) ------------------------------------------------------------
# Requests per token (or signed-in user) per fixed window: N/second|minute|hour|day.
# The count lives in the cache: use a shared CACHE_URL (Redis) when several processes serve the API.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="600/minute").strip()
_rate_count, _rate_sep, _rate_period = API_RATE_LIMIT.partition("/")
if not (_rate_count.strip().isascii() and _rate_count.strip().isdigit()
        and _rate_period.strip() in {"second", "minute", "hour", "day"}):
    _stop(f"API_RATE_LIMIT={API_RATE_LIMIT!r} is not a rate; use e.g. 600/minute.")
# Seconds an app process remembers an API token it checked (api/auth.py): a revoked token, or one whose
# user was deactivated, keeps working in other processes for at most this long. 0: check on every request.
API_TOKEN_CACHE_SECONDS = envint("API_TOKEN_CACHE_SECONDS", 5)
if API_TOKEN_CACHE_SECONDS < 0:
    _stop("API_TOKEN_CACHE_SECONDS must be 0 or more.")

# --- Persistent SQLite connections ------------------------------------------------
# Opening a SQLite connection (connect, register Django's SQL functions, run the
# PRAGMAs above) costs about as much CPU as a simple request: keep it, as PostgreSQL's
# are kept. Each worker process or thread has its own connection, so this is
# safe with gunicorn's sync and gthread workers. CONN_MAX_AGE=0 opens one per request.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = envint("CONN_MAX_AGE", 60)

# --- PostgreSQL prepared statements (on by default) ----------------------------------
# Server-side parameter binding lets psycopg prepare a statement the fifth time it
# runs, so PostgreSQL stops parsing and planning the API's few hot queries on every
# request (an API event: about 2.3 -> 1 ms of PostgreSQL CPU; the whole test suite
# passes with it). Django's own pool (DATABASE_POOL) is fine with it. Turn it off
# (DATABASE_PREPARED_STATEMENTS=false) behind a pooler in transaction mode that does
# not track prepared statements: PgBouncer before 1.21, or 1.21+ without
# max_prepared_statements set.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and envbool(
    "DATABASE_PREPARED_STATEMENTS", "true"
):
    DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
# Django's PostgreSQL backend whose per-request health check (CONN_HEALTH_CHECKS) is a poll of
# the idle socket, with SELECT 1 only when the server has said something (mars_labs/postgresql/).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "mars_labs.postgresql"
# Django's SQLite backend whose write transactions queue on a file lock (woken within a millisecond)
# instead of SQLite's busy handler, which sleeps 1, 2, 5, 10 ms... (mars_labs/sqlite3/).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["ENGINE"] = "mars_labs.sqlite3"
