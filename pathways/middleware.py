"""Refused requests (a PermissionDenied anywhere) become security events. The sign-in's own middleware
(session limits, the second step) lives in pathways.signin.middleware."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from pathways.audit import RequestOrigin, security_event_record
from pathways.choices import SecurityEventKind

Handler = Callable[[HttpRequest], HttpResponse]


class PermissionDeniedLogMiddleware:
    """Every refusal (403) becomes a security event; the 404s of the access policy log themselves."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if isinstance(exception, PermissionDenied) and request.user.is_authenticated:
            security_event_record(
                kind=SecurityEventKind.PERMISSION_DENIED,
                origin=RequestOrigin.of(request),
                user=request.user,
                detail={"method": request.method or ""},
            )
