"""Settings for the benchmark web server: the local settings plus the empty baseline view."""

from config.settings.local import *  # noqa: F403

ROOT_URLCONF = "bench_app"
DEBUG = False
