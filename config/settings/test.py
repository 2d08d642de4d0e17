"""Unit tests: SQLite in memory, eager nothing (tests capture on_commit callbacks instead)."""

from .local import *

DEBUG = False
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
        "TEST": {"NAME": ":memory:"},
    }
}
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db_url_config(env.str("DATABASE_URL"))}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Integration tests whose worker processes read files the test wrote (the media library) keep
# them on disk under MEDIA_ROOT, which they set for both.
if env.bool("TEST_MEDIA_ON_DISK", default=False):
    STORAGES["default"] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
WHITENOISE_AUTOREFRESH = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if env.str("REDIS_URL", default=""):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env.str("REDIS_URL"),
            "KEY_PREFIX": "parley-test",
        }
    }
LOGGING["root"]["level"] = "WARNING"
# The tests' provider is the simulator on loopback (MEDIA_URL_ALLOW_PRIVATE stays off, so the
# media SSRF rules are tested as in production).
PROVIDER_URL_ALLOW_PRIVATE = True
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
# Unit tests enqueue into kombu's in-memory transport (nothing consumes it); the integration
# suite sets REDIS_URL and real workers consume.
CELERY_BROKER_URL = env.str("REDIS_URL", default="") or "memory://"
