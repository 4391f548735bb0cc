"""Security events from Django's and django-axes' sign-in signals (framework signals, not domain ones:
the product's own writes record their events in services.py).

Receivers take `sender` and **kwargs, as Django asks of every receiver. Django sends `sender` by keyword,
so it keeps its name though unused: hence the `noqa: ARG001` on each."""

from __future__ import annotations

import time
from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from pathways.audit import RequestOrigin, security_event_record
from pathways.choices import SecurityEventKind

AUTH_AT = "ff_auth_at"
SEEN_AT = "ff_seen_at"


@receiver(user_logged_in, dispatch_uid="ff_login_succeeded")
def _login_succeeded(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:  # noqa: ARG001
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[AUTH_AT] = now  # the absolute session limit counts from here
        request.session[SEEN_AT] = now
    security_event_record(kind=SecurityEventKind.LOGIN_SUCCEEDED, origin=RequestOrigin.of(request), user=user)


@receiver(user_login_failed, dispatch_uid="ff_login_failed")
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:  # noqa: ARG001
    locked = bool(getattr(request, "axes_locked_out", False))
    security_event_record(
        kind=SecurityEventKind.LOGIN_FAILED,
        origin=RequestOrigin.of(request),
        username=str(credentials.get("username", "")),
        detail={"paused": True} if locked else {},
    )


@receiver(user_logged_out, dispatch_uid="ff_logged_out")
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:  # noqa: ARG001
    if user is not None:
        security_event_record(kind=SecurityEventKind.LOGGED_OUT, origin=RequestOrigin.of(request), user=user)


# django-axes also sends `ip_address`; **kwargs takes it, as the origin is read from the request like
# every other event's.
@receiver(user_locked_out, dispatch_uid="ff_locked_out")
def _locked_out(sender: Any, request: Any, username: str, **kwargs: Any) -> None:  # noqa: ARG001
    security_event_record(
        kind=SecurityEventKind.LOCKED_OUT, origin=RequestOrigin.of(request), username=username or ""
    )
