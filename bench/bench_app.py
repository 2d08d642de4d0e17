"""The WSGI app used by the benchmarks: Parley plus two baseline views on the same server.

`bench/empty` answers at once; `bench/insert` stores the request body as one row of a scratch
table (`bench_row`, created by the benchmark), the cheapest durable write a view can make.
Not a benchmark itself (run_all skips modules that define no main()).
"""

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"

from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

application = get_wsgi_application()


def empty(request):
    return HttpResponse(b"")


@csrf_exempt
def insert(request):
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_row (body) VALUES (%s)", [request.body.decode()])
    return HttpResponse(b"")


urlpatterns = [
    path("bench/empty", empty),
    path("bench/insert", insert),
    path("", include("config.urls")),
]
