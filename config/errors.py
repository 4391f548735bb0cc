"""The CSRF failure and "not found" pages: friendly Danish pages instead of Django's technical ones — the
portal's own under settings.PORTAL_PATH (its base, its template engine), the staff ones elsewhere.

The other error pages are Django's default handlers with our templates (templates/400.html, 403.html,
500.html); the portal's views answer their own 404 (portal.views.base), and an address under the portal
that matches no page gets the portal's 404 here, one under /api/ the API's (JSON; FHIR for FHIR's). Django's
CSRF middleware already logs the reason to `django.security.csrf`; the page does not show it.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext
from django.views import defaults

from portal.views.base import portal_render


# Django calls the view with `reason=` by keyword, so the unused parameter keeps its name.
def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:  # noqa: ARG001
    if request.path.startswith(settings.PORTAL_PATH):
        response = portal_render(request, "portal/csrf_failure.html", status=403)
        patch_cache_control(response, private=True, no_store=True)
        return response
    return render(request, "403_csrf.html", status=403)


# An API address that matches no endpoint (an id that is no UUID): the API's own answer, not a page. The
# FHIR endpoints answer in FHIR (an OperationOutcome), the rest as every other API refusal.
API_PATH = "/api/"
FHIR_PATHS = ("/api/v1/fhir/", "/api/v1/medcom/")


def _api_not_found(request: HttpRequest) -> HttpResponse:
    detail = gettext("Not found.")
    if request.path.startswith(FHIR_PATHS) or request.path.rstrip("/").endswith(
        ("/fhir", "/care-communication")
    ):
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "not-found", "diagnostics": detail}],
        }
        return JsonResponse(outcome, status=404, content_type="application/fhir+json")
    return JsonResponse({"detail": detail}, status=404)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PATH):
        return _api_not_found(request)
    if request.path.startswith(settings.PORTAL_PATH):
        response = portal_render(request, "portal/not_found.html", status=404)
        patch_cache_control(response, private=True, no_store=True)
        return response
    return defaults.page_not_found(request, exception)
