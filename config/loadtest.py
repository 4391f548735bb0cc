"""`make loadtest` only: the product's URLs plus a bare Django view to measure them against.

The bare view does what every signed-in page must do and nothing else: it goes through the same
middleware, reads the session (and with it the signed-in user) and runs one query. The product's pages are
compared with it (the goal: the plan page's throughput at least half of the bare view's). Served only under
config.settings_loadtest, never by the product's own URLconf.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import path

from config.urls import urlpatterns as product_urlpatterns


def bare(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:  # the session read, and the user with it
        return HttpResponseForbidden("Not signed in.", content_type="text/plain")  # never a cheap baseline
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pathways_pathwayplan WHERE id = %s", [1])
        (found,) = cursor.fetchone()
    return HttpResponse(f"True {found}", content_type="text/plain")


urlpatterns = [*product_urlpatterns, path("loadtest/bare/", bare, name="loadtest-bare")]
