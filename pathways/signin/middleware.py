"""Session limits and the second sign-in step, for every request.

Order in settings.MIDDLEWARE: after authentication, django-otp and messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from pathways.audit import RequestOrigin, security_event_record
from pathways.choices import SecurityEventKind
from pathways.signin import policy as signin
from pathways.signin.signals import AUTH_AT, SEEN_AT

# The last-seen stamp is written at most this often, so most requests do not write the session.
SEEN_RESOLUTION_SECONDS = 60

Handler = Callable[[HttpRequest], HttpResponse]


def _send_to(request: HttpRequest, url: str, status_message: str) -> HttpResponse:
    """Redirect a page, tell htmx to load the page instead of swapping it in, refuse an API call."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": status_message}, status=401)
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


class SessionTimeoutMiddleware:
    """ASVS 3.3.2: a staff session ends after SESSION_IDLE_TIMEOUT without a request and, in any case,
    SESSION_ABSOLUTE_TIMEOUT after sign-in. The session cookie itself lives no longer than the latter."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.get_response(request)
        now = int(time.time())
        session = request.session
        auth_at = session.get(AUTH_AT)
        seen_at = session.get(SEEN_AT)
        if auth_at is None:
            session[AUTH_AT] = auth_at = now
        idle = seen_at is not None and now - seen_at > settings.SESSION_IDLE_TIMEOUT.total_seconds()
        too_old = now - auth_at > settings.SESSION_ABSOLUTE_TIMEOUT.total_seconds()
        if idle or too_old:
            security_event_record(
                kind=SecurityEventKind.SESSION_EXPIRED,
                origin=RequestOrigin.of(request),
                user=request.user,
                detail={"reason": "idle" if idle else "absolute"},
            )
            logout(request)
            message = (
                _("You were signed out after 30 minutes without activity. Sign in again to go on.")
                if idle
                else _("You were signed out because you had been signed in for 12 hours. Sign in again.")
            )
            messages.info(request, message)
            return _send_to(request, signin.with_next("login", request.get_full_path()), message)
        if seen_at is None or now - seen_at >= SEEN_RESOLUTION_SECONDS:
            session[SEEN_AT] = now
        return self.get_response(request)


class SecondFactorRequiredMiddleware:
    """Until the second step is passed, a user who must use it reaches only the sign-in pages.

    Fails closed: every path is covered except the short list of sign-in pages and static files.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    @cached_property
    def open_paths(self) -> frozenset[str]:
        return frozenset(
            reverse(name)
            for name in ("login", "logout", "pathways:mfa-verify", "pathways:mfa-setup", "set_language")
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not signin.is_verified(user)
            and request.path not in self.open_paths
            and not request.path.startswith(settings.STATIC_URL)
        ):
            if signin.has_second_factor(user):
                target = "pathways:mfa-verify"
            elif signin.second_factor_required(user):
                target = "pathways:mfa-setup"
            else:
                return self.get_response(request)
            message = _("Finish signing in with your authenticator app first.")
            return _send_to(request, signin.with_next(target, request.get_full_path()), message)
        return self.get_response(request)
