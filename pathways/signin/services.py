"""Writes of the sign-in: setting up and removing the second step, recovery codes, signing out
everywhere, and the API token. Keyword-only and atomic like every service; each records its security event.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from pathways.audit import RequestOrigin, security_event_record
from pathways.choices import SecurityEventKind
from pathways.models import User
from pathways.signin.policy import has_second_factor, second_factor_required, verify_second_factor


@transaction.atomic
def sessions_revoke_all(*, user: User, origin: RequestOrigin | None = None) -> None:
    """Sign the user out of every browser at once: their sessions stop validating (models.User)."""
    User.objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
    user.refresh_from_db(fields=["session_generation"])
    security_event_record(kind=SecurityEventKind.SESSIONS_REVOKED, origin=origin, user=user)


def second_factor_devices(user: User) -> list[TOTPDevice]:
    return list(TOTPDevice.objects.filter(user=user, confirmed=True))


@transaction.atomic
def mfa_totp_begin(*, user: User) -> TOTPDevice:
    """A new, unconfirmed authenticator for the user; earlier unfinished set-ups are dropped."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)


@transaction.atomic
def mfa_totp_confirm(
    *, user: User, device_id: int, token: str, origin: RequestOrigin | None = None
) -> list[str] | None:
    """Confirm a set-up with the first code from the app. On success the new authenticator replaces any
    earlier one and fresh recovery codes are returned (shown once); on a wrong code, None."""
    device = TOTPDevice.objects.select_for_update().filter(pk=device_id, user=user, confirmed=False).first()
    if device is None or not device.verify_token(token):
        return None
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = recovery_codes_regenerate(user=user)
    security_event_record(kind=SecurityEventKind.MFA_ENROLLED, origin=origin, user=user)
    return codes


@transaction.atomic
def recovery_codes_regenerate(*, user: User, origin: RequestOrigin | None = None) -> list[str]:
    """Replace the user's recovery codes with new ones; each works once. Returned for showing once."""
    device, _created = StaticDevice.objects.get_or_create(
        user=user, name="recovery", defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _i in range(settings.RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    if origin is not None:
        security_event_record(kind=SecurityEventKind.MFA_RECOVERY_REGENERATED, origin=origin, user=user)
    return codes


@transaction.atomic
def mfa_remove(*, user: User, actor: User, origin: RequestOrigin | None = None) -> None:
    """Remove the user's authenticator and recovery codes (lost phone: an administrator does this)."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    security_event_record(
        kind=SecurityEventKind.MFA_REMOVED,
        origin=origin,
        user=user,
        detail={"by": actor.get_username()},
    )


class ApiSignInRefused(Exception):
    """The API token is refused after a correct password: `status` is the HTTP status to answer."""

    def __init__(self, detail: str, *, status: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


def api_token_issue(*, user: Any, code: str, origin: RequestOrigin) -> str:
    """The second step and the token for an integration whose password was correct.

    Records what the browser sign-in records: the second step verified (or a recovery code used) or
    failed, and the sign-in itself (as the token issued). Raises ApiSignInRefused.
    """
    if second_factor_required(user):
        if not has_second_factor(user):
            detail = gettext("Set up two-step sign-in in the browser before you ask for an API token.")
            raise ApiSignInRefused(detail, status=403)
        device, recovery = verify_second_factor(user, code)
        if device is None:
            security_event_record(kind=SecurityEventKind.MFA_FAILED, origin=origin, user=user)
            raise ApiSignInRefused(gettext("A valid code from the authenticator app is needed."), status=400)
        kind = SecurityEventKind.MFA_RECOVERY_USED if recovery else SecurityEventKind.MFA_VERIFIED
        security_event_record(kind=kind, origin=origin, user=user, detail={"via": "api"})
    token, _created = Token.objects.get_or_create(user=user)
    security_event_record(kind=SecurityEventKind.API_TOKEN_ISSUED, origin=origin, user=user)
    return str(token.key)
