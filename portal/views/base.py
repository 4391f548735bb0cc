"""What every portal page shares: the one decorator. The portal never reads `request.user`: a staff
sign-in opens nothing here, and a portal sign-in opens nothing on the staff side."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.http import require_http_methods

from portal import access
from portal.models import PortalSession

View = TypeVar("View", bound=Callable[..., HttpResponse])
SAFE = ("GET", "HEAD")


class PortalRequest(HttpRequest):
    portal_session: PortalSession


def portal_view(*, signed_in: bool = True, methods: tuple[str, ...] = SAFE) -> Callable[[View], View]:
    """Every portal page: only `methods` (safe ones, except the sign-in's own forms; 405 otherwise),
    `Cache-Control: private, no-store`, and — where `signed_in` — an open portal session (else the
    sign-in page), put on the request as `request.portal_session`."""

    def decorate(view: View) -> View:
        @wraps(view)
        def portal(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if signed_in:
                session = access.session_from_request(request)
                if session is None:
                    response: HttpResponse = redirect("portal:sign-in")
                    if settings.PORTAL_SESSION_COOKIE in request.COOKIES:
                        response.delete_cookie(settings.PORTAL_SESSION_COOKIE, path=settings.PORTAL_PATH)
                else:
                    cast(PortalRequest, request).portal_session = session
                    response = view(request, *args, **kwargs)
            else:
                response = view(request, *args, **kwargs)
            patch_cache_control(response, private=True, no_store=True)
            patch_vary_headers(response, ["Cookie"])
            return response

        return cast(View, require_http_methods(list(methods))(portal))

    return decorate


def portal_render(
    request: HttpRequest, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HttpResponse:
    """Render a portal page: the context holds read models only, and whether someone is signed in
    (the header's sign-out button)."""
    context = {**(context or {}), "portal_signed_in": hasattr(request, "portal_session")}
    return render(request, template, context, status=status)
