"""Who must use a second factor, and where the sign-in steps send people. One place for the policy.

Two-step sign-in uses django-otp: an authenticator app (TOTP) and ten single-use recovery codes. It is
required for administrators, for everyone who has set it up (an attacker with the password cannot
switch it off) and, with DJANGO_MFA_REQUIRED_FOR_ALL, for all staff; everyone else is asked at sign-in.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from axes.models import AccessFailureLog
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

_HAS_DEVICE_ATTR = "_ff_has_second_factor"


def has_second_factor(user: Any) -> bool:
    """Whether the user has a confirmed authenticator; cached on the user object for the request."""
    cached: bool | None = getattr(user, _HAS_DEVICE_ATTR, None)
    if cached is None:
        cached = TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()
        setattr(user, _HAS_DEVICE_ATTR, cached)
    return cached


def has_second_factor_known(user: Any, confirmed: bool) -> None:
    """What has_second_factor answers for this user object, read with it (signin.backends)."""
    setattr(user, _HAS_DEVICE_ATTR, confirmed)


def second_factor_required(user: Any) -> bool:
    return bool(
        user.is_staff or user.is_superuser or settings.MFA_REQUIRED_FOR_ALL or has_second_factor(user)
    )


def is_verified(user: Any) -> bool:
    """Whether this session passed the second step (django-otp's middleware sets it)."""
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def safe_next(request: HttpRequest, default: str | None = None) -> str:
    """The `next` the user came from, if it is a path on this site; else the caseload. Only paths: a
    bare word would be taken for a view name by `redirect` (and fail)."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default or reverse(settings.LOGIN_REDIRECT_URL)


def with_next(url_name: str, next_url: str, **extra: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': next_url, **extra})}"


def account_failures_last_hour(username: str) -> int:
    """Failed sign-ins for this account from any address in the past hour (django-axes' failure log)."""
    since = timezone.now() - timedelta(hours=1)
    failures = AccessFailureLog.objects.filter(username=username, attempt_time__gte=since, locked_out=False)
    return int(failures.count())


def account_paused(username: str) -> bool:
    """ASVS 2.2.1: at most ACCOUNT_FAILURES_PER_HOUR failed attempts per account and hour, from anywhere."""
    return bool(username) and account_failures_last_hour(username) >= settings.ACCOUNT_FAILURES_PER_HOUR


def verify_second_factor(user: Any, code: str) -> tuple[Any, bool]:
    """The device that accepts the code and whether it was a recovery code; (None, False) if none does.

    django-otp throttles each device (1, 2, 4 … seconds after successive failures)."""
    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
        if code.isdigit() and device.verify_token(code):
            return device, False
    for static in StaticDevice.objects.filter(user=user, confirmed=True):
        if static.verify_token(code):
            return static, True
    return None, False


def lockout_response(
    request: HttpRequest, _original_response: Any = None, _credentials: Any = None
) -> HttpResponse:
    """django-axes' answer while a sign-in is paused: JSON for the API, the explaining page for people.

    django-axes calls it with (request, original_response, credentials), by position; neither of the
    latter changes the answer."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    response: HttpResponse
    if request.path.startswith("/api/"):
        detail = gettext("Too many failed sign-ins. Wait a while and try again.")
        response = JsonResponse({"detail": detail}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response
