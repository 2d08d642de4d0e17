"""The WSGI app used by the benchmarks: Parley plus an empty view for the baseline.

Not a benchmark itself (run_all skips modules that define no main()).
"""

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"

from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse
from django.urls import include, path

application = get_wsgi_application()


def empty(request):
    return HttpResponse(b"")


urlpatterns = [path("bench/empty", empty), path("", include("config.urls"))]
