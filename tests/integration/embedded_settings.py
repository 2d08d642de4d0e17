"""The embedded mode (`config.settings.local`: SQLite, filesystem broker, file cache) for the
embedded-versus-PostgreSQL scenario, with the file cache in the test's own folder so that a
`make run` on the same machine shares nothing with it."""

from config.settings.local import *  # noqa: F403
from config.settings.local import env

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": env.str("EMBEDDED_CACHE_DIR"),
    }
}
