"""What every portal page shares: the one decorator and the one way to render. The portal never reads
`request.user`: a staff sign-in opens nothing here, and a portal sign-in opens nothing on the staff side.
Its pages render with the portal's own template engine (settings.TEMPLATES, "portal"), whose context has
no `request`, no `user`, no messages and no notification bell: only what the view gives (read models) and
the few plain values portal_render adds."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.http import require_http_methods

from portal import access
from portal.models import PortalSession

View = TypeVar("View", bound=Callable[..., HttpResponse])
SAFE = ("GET", "HEAD")
PORTAL_ENGINE = "portal"  # settings.TEMPLATES: the portal's own engine


class PortalRequest(HttpRequest):
    portal_session: PortalSession


def portal_view(*, signed_in: bool = True, methods: tuple[str, ...] = SAFE) -> Callable[[View], View]:
    """Every portal page: only `methods` (safe ones, except the sign-in's own forms; 405 otherwise),
    `Cache-Control: private, no-store`, and — where `signed_in` — an open portal session (else the
    sign-in page), put on the request as `request.portal_session`. A 404 is the portal's own page (plain
    words, the way back, whom to call), never the staff's."""

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
                    response = _page_or_not_found(view, request, *args, **kwargs)
            else:
                response = _page_or_not_found(view, request, *args, **kwargs)
            patch_cache_control(response, private=True, no_store=True)
            patch_vary_headers(response, ["Cookie"])
            return response

        return cast(View, require_http_methods(list(methods))(portal))

    return decorate


def _page_or_not_found(view: View, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    try:
        return view(request, *args, **kwargs)
    except Http404:
        return portal_render(request, "portal/not_found.html", status=404)


def portal_render(
    request: HttpRequest, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HttpResponse:
    """Render a portal page with the portal's engine (settings.TEMPLATES, "portal"). The context holds the
    view's read models and three plain values: whether someone is signed in (the header's sign-out
    button), the page's own path (`current_path`: the language switch comes back to it) and the CSRF token
    (what {% csrf_token %} reads). The request itself is not given to the template at all — not even
    through a RequestContext, whose `request` a `{% block %}` would hand on as `block.context.request` —
    so nothing on it (the portal session and its patient, a staff user signed in in the same browser)
    can reach a page."""
    context = {
        **(context or {}),
        "portal_signed_in": hasattr(request, "portal_session"),
        "current_path": request.get_full_path(),
        "csrf_token": get_token(request),
    }
    return HttpResponse(render_to_string(template, context, using=PORTAL_ENGINE), status=status)
