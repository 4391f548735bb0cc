"""Staff sign-in: password, the second step (authenticator app or recovery code), setting it up, and the
account's security page. Kept apart from views.py, which holds the patient pages; no patient data here.
"""

from __future__ import annotations

from base64 import b32encode
from typing import cast

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from pathways.audit import RequestOrigin, security_event_record
from pathways.choices import SecurityEventKind
from pathways.models import SecurityEvent, User
from pathways.signin import policy as signin
from pathways.signin import services
from pathways.signin.forms import SecondStepForm, StaffAuthenticationForm, TotpConfirmForm

SETUP_DEVICE_SESSION_KEY = "ff_mfa_setup_device"


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _must_keep_second_factor(user: User) -> bool:
    return bool(user.is_staff or user.is_superuser or settings.MFA_REQUIRED_FOR_ALL)


class StaffLoginView(LoginView):
    """The password step. Django's login() rotates the session key; the second step follows."""

    template_name = "registration/login.html"
    form_class = StaffAuthenticationForm

    def form_valid(self, form: StaffAuthenticationForm) -> HttpResponse:  # type: ignore[override]
        user = form.get_user()
        auth_login(self.request, user)
        next_url = self.get_redirect_url() or reverse(settings.LOGIN_REDIRECT_URL)
        if signin.has_second_factor(user):
            return HttpResponseRedirect(signin.with_next("pathways:mfa-verify", next_url))
        if signin.second_factor_required(user):
            return HttpResponseRedirect(signin.with_next("pathways:mfa-setup", next_url))
        # Not required yet: offer it, with a way to skip for now.
        return HttpResponseRedirect(signin.with_next("pathways:mfa-setup", next_url, offer="1"))


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def mfa_verify(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    next_url = signin.safe_next(request)
    if signin.is_verified(user):
        return redirect(next_url)
    if not signin.has_second_factor(user):
        return redirect(signin.with_next("pathways:mfa-setup", next_url))
    form = SecondStepForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device, recovery = signin.verify_second_factor(user, form.cleaned_data["code"])
        if device is not None:
            request.session.cycle_key()  # a new session id at the raised privilege
            otp_login(request, device)
            if recovery:
                left = StaticToken.objects.filter(device=device).count()
                security_event_record(
                    kind=SecurityEventKind.MFA_RECOVERY_USED,
                    origin=RequestOrigin.of(request),
                    user=user,
                    detail={"left": left},
                )
                messages.warning(
                    request,
                    _(
                        "You signed in with a recovery code. You have %(left)d left: make new ones on your "
                        "security page."
                    )
                    % {"left": left},
                )
            else:
                security_event_record(
                    kind=SecurityEventKind.MFA_VERIFIED, origin=RequestOrigin.of(request), user=user
                )
            return redirect(next_url)
        security_event_record(kind=SecurityEventKind.MFA_FAILED, origin=RequestOrigin.of(request), user=user)
        form.add_error(
            "code",
            _("The code was not accepted. Check the time on your phone, wait for a new code and try again."),
        )
    return render(request, "registration/mfa_verify.html", {"form": form, "next": next_url})


def _qr_svg(device: TOTPDevice) -> str:
    # An inline SVG: no image request, no script, fine under the Content-Security-Policy.
    svg = segno.make(device.config_url, error="m").svg_inline(scale=5, dark="#1a1a1a", light="#ffffff")
    return mark_safe(svg)  # noqa: S308 - segno's own markup from a URL it encodes, no user text


def _grouped_secret(device: TOTPDevice) -> str:
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def mfa_setup(request: HttpRequest) -> HttpResponse:
    """Set up (or replace) the authenticator app. Replacing needs a session that passed the second step,
    so a stolen password alone cannot move the second factor to an attacker's phone."""
    user = _user(request)
    next_url = signin.safe_next(request)
    if signin.has_second_factor(user) and not signin.is_verified(user):
        return redirect(signin.with_next("pathways:mfa-verify", next_url))
    offered = request.GET.get("offer") == "1" and not signin.second_factor_required(user)
    device = None
    device_id = request.session.get(SETUP_DEVICE_SESSION_KEY)
    if device_id is not None:
        device = TOTPDevice.objects.filter(pk=device_id, user=user, confirmed=False).first()
    if device is None:
        device = services.mfa_totp_begin(user=user)
        request.session[SETUP_DEVICE_SESSION_KEY] = device.pk
    form = TotpConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = services.mfa_totp_confirm(
            user=user, device_id=device.pk, token=form.cleaned_data["code"], origin=RequestOrigin.of(request)
        )
        if codes is not None:
            del request.session[SETUP_DEVICE_SESSION_KEY]
            request.session.cycle_key()
            device.refresh_from_db()
            otp_login(request, device)
            return render(
                request,
                "registration/recovery_codes.html",
                {"codes": codes, "next": next_url, "first_time": True},
            )
        form.add_error("code", _("The code was not accepted. Wait for a new code in the app and try again."))
    context = {
        "form": form,
        "next": next_url,
        "offered": offered,
        "qr_svg": _qr_svg(device),
        "secret": _grouped_secret(device),
        "replacing": signin.has_second_factor(user),
    }
    return render(request, "registration/mfa_setup.html", context)


@never_cache
@login_required
@require_safe
def account_security(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    totp = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    recovery_left = StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
    events = SecurityEvent.objects.filter(user=user).order_by("-at")[:15]
    context = {
        "totp": totp,
        "recovery_left": recovery_left,
        "may_remove": totp is not None and not _must_keep_second_factor(user),
        "events": events,
    }
    return render(request, "registration/account_security.html", context)


@never_cache
@login_required
@require_POST
def recovery_codes_regenerate(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not signin.has_second_factor(user):
        return redirect("pathways:mfa-setup")
    codes = services.recovery_codes_regenerate(user=user, origin=RequestOrigin.of(request))
    return render(
        request,
        "registration/recovery_codes.html",
        {"codes": codes, "next": reverse("pathways:account-security"), "first_time": False},
    )


@never_cache
@login_required
@require_POST
def mfa_remove(request: HttpRequest) -> HttpResponse:
    """Staff who chose two-step sign-in themselves may switch it off again (not administrators, and not
    when it is required for everyone)."""
    user = _user(request)
    if _must_keep_second_factor(user):
        messages.error(request, _("Two-step sign-in is required for your account and cannot be removed."))
        return redirect("pathways:account-security")
    services.mfa_remove(user=user, actor=user, origin=RequestOrigin.of(request))
    messages.success(request, _("Two-step sign-in is removed from your account."))
    return redirect("pathways:account-security")


@never_cache
@login_required
@require_POST
def logout_everywhere(request: HttpRequest) -> HttpResponse:
    services.sessions_revoke_all(user=_user(request), origin=RequestOrigin.of(request))
    logout(request)
    messages.success(request, _("You are signed out on every computer and phone. Sign in again to go on."))
    return redirect("login")
