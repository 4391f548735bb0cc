"""The portal's sign-in: the one seam a production sign-in replaces.

Here: a one-time link to the address the person typed (e-mail or mobile number), then a 6-digit code by
the other channel where the person has both (else the same one), both sent through the hub's outbox.
In production, MitID through NemLog-in (OIDC) takes the place of `sign_in_request` … `sign_in_code_check`:
its callback finds the readers for the CPR number in the ID token and calls `portal_session_start` — the
rest of the portal (access, selectors, views) does not change (README, "The portal's sign-in").

Asking for a link (`sign_in_request`), opening it (`sign_in_link_open`), typing the code
(`sign_in_code_check`). The person's answer never depends on whether we know the address: the view says the
same either way, and only a known address gets a link.
"""

from __future__ import annotations

import enum
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import CharField, Count, Exists, F, Func, OuterRef, Q, QuerySet, Value
from django.http import HttpResponse
from django.utils import timezone

from pathways import outbox
from pathways.audit import RequestOrigin, security_event_record
from pathways.choices import NotificationChannel, NotificationKind, SecurityEventKind
from pathways.models import PathwayPlan, Patient
from pathways.numbers import ascii_digits
from portal.access import PORTAL_PLAN_STATUSES, scopes_seeing
from portal.choices import SessionEnd, SignInMethod
from portal.models import (
    CODE_LIFETIME,
    CODE_TRIES,
    LINK_LIFETIME,
    PortalSession,
    PortalSignIn,
    secret_hash,
)
from relatives.models import Relative

# The browser that opened a link carries this cookie until the code is typed: only it may type the code.
SIGN_IN_COOKIE = f"{settings.PORTAL_SESSION_COOKIE}_sign_in"
SIGN_IN_COOKIE_SECONDS = int(CODE_LIFETIME.total_seconds())
# Links asked for in this window are counted: at most settings.PORTAL_LINKS_PER_ADDRESS to one address, and
# at most PORTAL_LINKS_PER_IP from one IP address (a setting, LINKS_PER_IP when it is not set).
THROTTLE_WINDOW = timedelta(minutes=15)
LINKS_PER_IP = 10
ADDRESS_MAX_LENGTH = 254  # the longest e-mail address (RFC 5321 path)
_PHONE_SEPARATORS = re.compile(r"[\s\-.()/]")
_DANISH_PREFIXES = ("+45", "0045")
_DANISH_CODE = "45"  # written before the 8 digits with no + or 00: "45 22 41 63 18"
Reader = TypeVar("Reader", Patient, Relative)


@transaction.atomic
def portal_session_start(
    *,
    method: SignInMethod,
    patient: Patient | None,
    relatives: Iterable[Relative] = (),
    sign_in: PortalSignIn | None = None,
    origin: RequestOrigin | None = None,
) -> tuple[PortalSession, str]:
    """A new portal session for the readers a sign-in proved (the patient and/or relatives). Returns the
    session and the key for its cookie (only its hash is kept). Every sign-in method ends here."""
    key = secrets.token_urlsafe(32)
    session = PortalSession.objects.create(
        key_hash=secret_hash(key),
        method=method,
        patient=patient,
        sign_in=sign_in,
        ip_address=origin.ip_address if origin else None,
    )
    session.relatives.set(list(relatives))
    return session, key


def session_cookie_set(*, response: HttpResponse, key: str) -> None:
    """The portal's own cookie: only for /portal/, not readable by scripts, sent on links from a mail."""
    response.set_cookie(
        settings.PORTAL_SESSION_COOKIE,
        key,
        path=settings.PORTAL_PATH,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


@dataclass(frozen=True)
class SignInAddress:
    """What a person typed to sign in: an e-mail address (lowercased) or a Danish mobile number (8 digits)."""

    channel: NotificationChannel
    value: str


def danish_phone(*, text: str) -> str:
    """A Danish phone number as its 8 digits (spaces, dashes and a leading +45, 0045 or 45 before 8 more
    digits dropped), else ""."""
    compact = _PHONE_SEPARATORS.sub("", ascii_digits(text))
    for prefix in _DANISH_PREFIXES:
        if compact.startswith(prefix):
            compact = compact[len(prefix) :]
            break
    else:
        if len(compact) == len(_DANISH_CODE) + 8 and compact.startswith(_DANISH_CODE):
            compact = compact[len(_DANISH_CODE) :]
    return compact if len(compact) == 8 and compact.isascii() and compact.isdigit() else ""


def sign_in_address(*, text: str) -> SignInAddress | None:
    """The e-mail address or mobile number in `text`, normalised; None when it is neither."""
    text = text.strip()
    if not text or len(text) > ADDRESS_MAX_LENGTH:
        return None
    if "@" in text:
        email = text.lower()
        try:
            validate_email(email)
        except ValidationError:
            return None
        return SignInAddress(channel=NotificationChannel.EMAIL, value=email)
    phone = danish_phone(text=text)
    return SignInAddress(channel=NotificationChannel.SMS, value=phone) if phone else None


def _digits(field: str) -> Func:
    return Func(
        F(field), Value(r"[^0-9]"), Value(""), Value("g"), function="regexp_replace", output_field=CharField()
    )


def _with_address(queryset: QuerySet[Reader], address: SignInAddress) -> QuerySet[Reader]:
    """The rows of `queryset` (patients or relatives) whose own e-mail or phone is `address` (a phone
    compared by its digits, with or without 45 or 0045 before them)."""
    if address.channel == NotificationChannel.EMAIL:
        return queryset.filter(email__iexact=address.value)
    numbers = [address.value, "45" + address.value, "0045" + address.value]
    matching: QuerySet[Reader] = queryset.alias(phone_digits=_digits("phone")).filter(
        phone_digits__in=numbers
    )
    return matching


def _address_of(reader: Patient | Relative, channel: str) -> str:
    """The reader's own address for `channel`, written as the sign-in keeps it."""
    if channel == NotificationChannel.EMAIL:
        return reader.email.strip().lower()
    return danish_phone(text=reader.phone) or reader.phone.strip()


def _readers_with(address: SignInAddress) -> tuple[Patient | None, list[Relative]]:
    """Who may sign in with `address`, their rows locked (two requests for one person queue here, so the
    throttle counts right): the patient with a plan the portal shows, when the address is one patient's
    alone (a shared address cannot tell us which patient is asking), and the adult relatives still on such
    a plan whose consent lets them see it (portal.access.scopes_seeing: the relatives app's rule, for all
    of them at once)."""
    portal_plans = PathwayPlan.objects.filter(patient=OuterRef("pk"), status__in=PORTAL_PLAN_STATUSES)
    patients = list(
        _with_address(Patient.objects.filter(Exists(portal_plans)), address)
        .select_for_update()
        .order_by("pk")[:2]
    )
    relatives = list(
        _with_address(
            Relative.objects.current().filter(is_child=False, plan__status__in=PORTAL_PLAN_STATUSES),
            address,
        )
        .select_related("plan")
        .select_for_update(of=("self",))
        .order_by("pk")
    )
    seeing = scopes_seeing(relatives)
    relatives = [relative for relative in relatives if relative.pk in seeing]
    return (patients[0] if len(patients) == 1 else None), relatives


def _throttled(*, address: SignInAddress, origin: RequestOrigin | None, now: datetime) -> str:
    """Why no link may go now: "address" when it had settings.PORTAL_LINKS_PER_ADDRESS links in the
    THROTTLE_WINDOW, "ip" when its IP address asked for PORTAL_LINKS_PER_IP links in it; else "". Only
    links are counted (an unknown address writes nothing), so this limits what is sent, not guessing."""
    # Only the sign-ins whose link went to this address: a sign-in by e-mail keeps the phone the code
    # goes to as well, and that is no link to the phone.
    to_address = Q(link_channel=address.channel) & (
        Q(email=address.value) if address.channel == NotificationChannel.EMAIL else Q(phone=address.value)
    )
    ip_address = origin.ip_address if origin else None
    from_ip = Q(ip_address=ip_address) if ip_address else Q(pk__in=[])
    counts = PortalSignIn.objects.filter(
        to_address | from_ip, created_at__gt=now - THROTTLE_WINDOW
    ).aggregate(to_address=Count("pk", filter=to_address), from_ip=Count("pk", filter=from_ip))
    if counts["to_address"] >= settings.PORTAL_LINKS_PER_ADDRESS:
        return "address"
    if ip_address and counts["from_ip"] >= getattr(settings, "PORTAL_LINKS_PER_IP", LINKS_PER_IP):
        return "ip"
    return ""


def _proven_by_the_code(
    *, patient: Patient | None, relatives: list[Relative], code_by: NotificationChannel
) -> tuple[str, list[Relative]]:
    """Where the code goes and which relatives it proves. The first reader (the patient, else the first
    relative) decides: the code goes to their own address for `code_by`, and only the readers with that
    same address sign in, as only they get the code. When the first reader has no such address it is ""
    (the code goes the way the link went), and only the readers with no address for `code_by` sign in.
    The others are left out of this sign-in (they can sign in with their own address)."""
    first: Patient | Relative | None = patient or next(iter(relatives), None)
    code_address = _address_of(first, code_by) if first is not None else ""
    return code_address, [
        relative for relative in relatives if _address_of(relative, code_by) == code_address
    ]


@transaction.atomic
def sign_in_request(
    *, address: SignInAddress, origin: RequestOrigin | None = None, now: datetime | None = None
) -> PortalSignIn | None:
    """A person asks for a link to `address`. When the address is a patient's or a relative's: one sign-in
    for the readers the code will prove (`_proven_by_the_code`), its link in the outbox (sent at once, also
    at night). Unknown: nothing is written. Throttled (`_throttled`): no link, a security event.
    Returns the sign-in, or None; the caller must answer the same either way."""
    now = now or timezone.now()
    patient, relatives = _readers_with(address)
    if patient is None and not relatives:
        return None
    if throttled := _throttled(address=address, origin=origin, now=now):
        _portal_event(kind=SecurityEventKind.LOCKED_OUT, origin=origin, throttled=throttled)
        return None
    code_by = (
        NotificationChannel.SMS if address.channel == NotificationChannel.EMAIL else NotificationChannel.EMAIL
    )
    code_address, relatives = _proven_by_the_code(patient=patient, relatives=relatives, code_by=code_by)
    if patient is not None:
        plan = (
            PathwayPlan.objects.filter(patient=patient, status__in=PORTAL_PLAN_STATUSES)
            .order_by("-created_at")
            .first()
        )
    else:
        plan = relatives[0].plan
    assert plan is not None  # the patient was found by such a plan, under a lock
    addresses = {address.channel: address.value, code_by: code_address}
    sign_in = PortalSignIn.objects.create(
        plan=plan,
        patient=patient,
        link_channel=address.channel,
        code_channel=code_by if code_address else address.channel,
        email=addresses[NotificationChannel.EMAIL],
        phone=addresses[NotificationChannel.SMS],
        salt=secrets.token_hex(32),
        created_at=now,
        expires_at=now + LINK_LIFETIME,
        ip_address=origin.ip_address if origin else None,
    )
    sign_in.relatives.set(relatives)
    outbox.notify(
        recipient=sign_in,
        kind=NotificationKind.SIGN_IN_LINK,
        channel=NotificationChannel(sign_in.link_channel),
        plan=plan,
        due_at=now,
        event=f"sign-in:{sign_in.public_id}:link",
    )
    return sign_in


def sign_in_link_usable(*, public_id: UUID, token: str, now: datetime | None = None) -> PortalSignIn | None:
    """The sign-in whose link this is, while the link still works (not opened, not expired, the right
    token); else None — unknown, used, expired and wrong alike. Reading it spends nothing."""
    now = now or timezone.now()
    sign_in = PortalSignIn.objects.filter(
        public_id=public_id, link_opened_at__isnull=True, expires_at__gt=now
    ).first()
    if sign_in is None or len(token) > 200 or not sign_in.link_token_matches(token):
        return None
    return sign_in


@transaction.atomic
def sign_in_link_open(
    *, public_id: UUID, token: str, now: datetime | None = None
) -> tuple[PortalSignIn, str] | None:
    """Spend the link (once: a conditional UPDATE claims it) and send the code by the code's channel.
    Returns the sign-in and the key for the browser's SIGN_IN_COOKIE (only its hash is kept), or None when
    the link no longer works."""
    now = now or timezone.now()
    sign_in = sign_in_link_usable(public_id=public_id, token=token, now=now)
    if sign_in is None:
        return None
    browser_key = secrets.token_urlsafe(32)
    opened = {
        "link_opened_at": now,
        "code_salt": secrets.token_hex(32),
        "code_sent_at": now,
        "browser_hash": secret_hash(browser_key),
    }
    claimed = PortalSignIn.objects.filter(
        pk=sign_in.pk, link_opened_at__isnull=True, expires_at__gt=now
    ).update(**opened)
    if not claimed:
        return None  # another request opened it a moment ago
    for field, value in opened.items():
        setattr(sign_in, field, value)
    outbox.notify(
        recipient=sign_in,
        kind=NotificationKind.SIGN_IN_CODE,
        channel=NotificationChannel(sign_in.code_channel),
        plan=sign_in.plan,
        due_at=now,
        event=f"sign-in:{sign_in.public_id}:code",
    )
    return sign_in, f"{sign_in.public_id}:{browser_key}"


def _waiting(browser_cookie: str, now: datetime) -> QuerySet[PortalSignIn]:
    public_id, _sep, browser_key = browser_cookie.partition(":")
    try:
        public_uuid = UUID(public_id)
    except ValueError:
        return PortalSignIn.objects.none()
    if not browser_key or len(browser_key) > 200:
        return PortalSignIn.objects.none()
    return PortalSignIn.objects.filter(
        public_id=public_uuid,
        browser_hash=secret_hash(browser_key),
        completed_at__isnull=True,
        failed_codes__lt=CODE_TRIES,
        code_sent_at__gt=now - CODE_LIFETIME,
    )


def sign_in_waiting_for_code(*, browser_cookie: str, now: datetime | None = None) -> PortalSignIn | None:
    """The sign-in this browser opened and whose code may still be typed: sent less than CODE_LIFETIME
    ago, fewer than CODE_TRIES wrong codes, not yet used. None otherwise."""
    return _waiting(browser_cookie, now or timezone.now()).first()


def sign_in_link_waiting_here(
    *, browser_cookie: str, public_id: UUID, token: str, now: datetime | None = None
) -> PortalSignIn | None:
    """The sign-in of this link when this browser opened it and its code may still be typed
    (`sign_in_waiting_for_code`): someone who taps the link again while the code is on its way belongs on
    the code page, not on "no longer works". None otherwise. Spends and sends nothing."""
    if not browser_cookie or len(token) > 200:
        return None
    waiting = sign_in_waiting_for_code(browser_cookie=browser_cookie, now=now)
    if waiting is None or waiting.public_id != public_id or not waiting.link_token_matches(token):
        return None
    return waiting


class CodeOutcome(enum.Enum):
    SIGNED_IN = "signed_in"
    WRONG = "wrong"  # try again: `tries_left` more
    TOO_MANY_WRONG = "too_many_wrong"  # this was the last try: ask for a new link
    SPENT = "spent"  # the sign-in no longer waits for a code (used, expired): ask for a new link


@dataclass(frozen=True)
class CodeResult:
    outcome: CodeOutcome
    tries_left: int = 0
    session_key: str = ""  # for the portal's cookie (SIGNED_IN)


def _portal_event(
    *,
    kind: SecurityEventKind,
    origin: RequestOrigin | None,
    sign_in: PortalSignIn | None = None,
    **detail: Any,
) -> None:
    """A portal sign-in in the security log: no user (it is no staff sign-in) and no address or name, only
    the sign-in's public id (when there is a sign-in)."""
    if sign_in is not None:
        detail["sign_in"] = str(sign_in.public_id)
    security_event_record(kind=kind, origin=origin, detail={"portal": True, **detail})


@transaction.atomic
def sign_in_code_check(
    *, browser_cookie: str, code: str, origin: RequestOrigin | None = None, now: datetime | None = None
) -> CodeResult:
    """The code typed in the browser that opened the link. Right: the sign-in is completed (once) and a
    portal session begins for its readers. Wrong: one try fewer; at CODE_TRIES wrong codes the sign-in is
    spent. The sign-in row is locked, so two codes typed at once are counted one after the other."""
    now = now or timezone.now()
    sign_in = _waiting(browser_cookie, now).select_for_update().first()
    if sign_in is None:
        return CodeResult(outcome=CodeOutcome.SPENT)
    if not sign_in.code_matches(code):
        PortalSignIn.objects.filter(pk=sign_in.pk).update(failed_codes=F("failed_codes") + 1)
        tries_left = CODE_TRIES - sign_in.failed_codes - 1
        if tries_left <= 0:
            _portal_event(
                kind=SecurityEventKind.LOCKED_OUT, origin=origin, sign_in=sign_in, failed_codes=CODE_TRIES
            )
            return CodeResult(outcome=CodeOutcome.TOO_MANY_WRONG)
        _portal_event(
            kind=SecurityEventKind.LOGIN_FAILED, origin=origin, sign_in=sign_in, tries_left=tries_left
        )
        return CodeResult(outcome=CodeOutcome.WRONG, tries_left=tries_left)
    completed = PortalSignIn.objects.filter(pk=sign_in.pk, completed_at__isnull=True).update(completed_at=now)
    if not completed:
        return CodeResult(outcome=CodeOutcome.SPENT)
    session, key = portal_session_start(
        method=SignInMethod.LINK_AND_CODE,
        patient=sign_in.patient,
        relatives=sign_in.relatives.all(),
        sign_in=sign_in,
        origin=origin,
    )
    _portal_event(
        kind=SecurityEventKind.LOGIN_SUCCEEDED,
        origin=origin,
        sign_in=sign_in,
        session=str(session.public_id),
    )
    return CodeResult(outcome=CodeOutcome.SIGNED_IN, session_key=key)


@transaction.atomic
def portal_sign_out(
    *, session: PortalSession, origin: RequestOrigin | None = None, now: datetime | None = None
) -> None:
    """End the session now (signed out). A session already ended stays as it ended."""
    ended = PortalSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
        ended_at=now or timezone.now(), end_reason=SessionEnd.SIGNED_OUT
    )
    if ended:
        security_event_record(
            kind=SecurityEventKind.LOGGED_OUT,
            origin=origin,
            detail={"portal": True, "session": str(session.public_id)},
        )
