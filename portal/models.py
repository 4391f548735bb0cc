"""The portal's own records: sign-in attempts and portal sessions. Nothing else is written by the portal
(it reads the plan through the other apps' access functions and selectors).

A portal session is not a Django session: it has its own cookie (settings.PORTAL_SESSION_COOKIE, path
/portal/) and its own table, so a staff sign-in and a portal sign-in never share a session, and a staff
user who opens the portal is a stranger there until they sign in as a patient or relative.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import uuid4

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from pathways.choices import NotificationChannel, NotificationKind
from pathways.models import PathwayPlan, Patient, choices_check
from pathways.numbers import NumericTextField
from portal.choices import SessionEnd, SignInMethod
from relatives.models import Relative

if TYPE_CHECKING:
    from pathways.models import Notification

SIGN_IN_CHANNELS = (NotificationChannel.EMAIL, NotificationChannel.SMS)
LINK_MINUTES = 15
LINK_LIFETIME = timedelta(minutes=LINK_MINUTES)  # a link works for 15 minutes, and once
CODE_MINUTES = 15
CODE_LIFETIME = timedelta(minutes=CODE_MINUTES)  # from the moment the code is sent
CODE_LENGTH = 6
CODE_TRIES = 5  # wrong codes before the sign-in is spent and the person must ask for a new link


def secret_hash(value: str) -> str:
    """What is stored of a secret handed to a browser (a session key, a browser binding): its SHA-256."""
    return hashlib.sha256(value.encode()).hexdigest()


class PortalSignIn(models.Model):
    """One sign-in: a link to the address the person typed, then a code by the other channel.

    Neither the link's token nor the code is stored: both are derived from the row's salt with the
    server's secret key (like Django's password-reset tokens), so the outbox can put them into the
    message when it sends it, and a copy of the database alone does not sign anyone in.

    The readers it may open — the patient whose address it is, and the relatives with that address — are
    fixed when the link is asked for; what each may see is decided again on every portal request.
    It is the outbox's recipient for its two messages (`notification_address`, `notification_text`).
    """

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    # The plan the outbox rows hang on (the first reader's plan): the hub's outbox needs one.
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, null=True, blank=True, related_name="portal_sign_ins"
    )
    relatives = models.ManyToManyField(Relative, blank=True, related_name="portal_sign_ins")
    link_channel = models.CharField(max_length=16, choices=NotificationChannel.choices)
    code_channel = models.CharField(max_length=16, choices=NotificationChannel.choices)
    email = models.EmailField(blank=True)
    phone = NumericTextField(max_length=30, blank=True)
    salt = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    link_opened_at = models.DateTimeField(null=True, blank=True)
    # The browser that opened the link: only it may enter the code (a cookie; its hash is kept here).
    browser_hash = models.CharField(max_length=64, blank=True)
    code_salt = models.CharField(max_length=64, blank=True, editable=False)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    failed_codes = models.PositiveSmallIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("portal sign-in")
        verbose_name_plural = _("portal sign-ins")
        ordering = ["-created_at"]
        constraints = [
            choices_check("link_channel", NotificationChannel, "portalsignin_link_channel_valid"),
            choices_check("code_channel", NotificationChannel, "portalsignin_code_channel_valid"),
            models.CheckConstraint(
                condition=Q(link_channel__in=SIGN_IN_CHANNELS) & Q(code_channel__in=SIGN_IN_CHANNELS),
                name="portalsignin_email_or_sms",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="portalsignin_expires_after_start"
            ),
            models.CheckConstraint(
                condition=Q(failed_codes__lte=CODE_TRIES), name="portalsignin_failed_codes_at_most_tries"
            ),
        ]
        indexes = [
            models.Index(fields=["email", "-created_at"], name="portalsignin_email_idx"),
            models.Index(fields=["phone", "-created_at"], name="portalsignin_phone_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.get_link_channel_display()}"

    def link_token(self) -> str:
        return salted_hmac(
            "portal.sign_in.link", f"{self.public_id}:{self.salt}", algorithm="sha256"
        ).hexdigest()

    def link_token_matches(self, token: str) -> bool:
        return constant_time_compare(self.link_token(), token)

    def code(self) -> str:
        """The 6-digit code (only once the link was opened: the code's salt is made then)."""
        if not self.code_salt:
            return ""
        digest = salted_hmac(
            "portal.sign_in.code", f"{self.public_id}:{self.code_salt}", algorithm="sha256"
        ).digest()
        return str(int.from_bytes(digest[:8], "big") % 10**CODE_LENGTH).zfill(CODE_LENGTH)

    def code_matches(self, code: str) -> bool:
        return bool(self.code_salt) and constant_time_compare(self.code(), code)

    def notification_address(self, channel: str) -> str:
        addresses: dict[str, str] = {
            NotificationChannel.EMAIL: self.email,
            NotificationChannel.SMS: self.phone,
        }
        return addresses.get(channel, "")

    def language(self) -> str:
        """The language of the two messages: the patient's, else the first relative's, else Danish."""
        reader = self.patient or self.relatives.order_by("pk").first()
        language = getattr(reader, "language", "") or "da"
        return language if language in dict(settings.LANGUAGES) else "da"

    def link_url(self) -> str:
        path = reverse("portal:sign-in-link", args=[self.public_id, self.link_token()])
        return settings.SITE_URL.rstrip("/") + path

    def notification_text(self, row: Notification) -> tuple[str, str]:
        """The link or the code in plain words, in the reader's language. Nothing about health: the
        message only lets its reader in."""
        with override(self.language()):
            if row.kind == NotificationKind.SIGN_IN_CODE:
                subject = _("Your code for Fælles forløb")
                body = _(
                    "Your code is %(code)s. Type it on the page that asks for it. The code works for "
                    "%(minutes)s minutes. Do not give the code to anyone."
                ) % {"code": self.code(), "minutes": CODE_MINUTES}
            else:
                subject = _("Your link to Fælles forløb")
                body = _(
                    "Hello. Here is your link to see your plan:\n\n%(link)s\n\n"
                    "The link works once and for %(minutes)s minutes. "
                    "When you open it, we send you a code.\n\n"
                    "Did you not ask for a link? Then you can delete this message."
                ) % {"link": self.link_url(), "minutes": LINK_MINUTES}
            return str(subject), str(body)


class PortalSessionQuerySet(models.QuerySet["PortalSession"]):
    def open(self) -> PortalSessionQuerySet:
        return self.filter(ended_at__isnull=True)


class PortalSession(models.Model):
    """A signed-in patient or relative in the portal: its own cookie and table, never a staff session.

    Ends after settings.PORTAL_SESSION_IDLE of no activity, or at sign-out. The readers are fixed at sign-in;
    a relative's access is asked of relatives.access.relative_scope on every request, and a relative whose
    sessions were ended (`Relative.sessions_ended_at`, e.g. a withdrawn consent) after this session began
    is no longer a reader in it.
    """

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    method = models.CharField(max_length=32, choices=SignInMethod.choices)
    sign_in = models.OneToOneField(
        PortalSignIn, on_delete=models.SET_NULL, null=True, blank=True, related_name="session"
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, null=True, blank=True, related_name="portal_sessions"
    )
    relatives = models.ManyToManyField(Relative, blank=True, related_name="portal_sessions")
    started_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=SessionEnd.choices, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = PortalSessionQuerySet.as_manager()

    class Meta:
        verbose_name = _("portal session")
        verbose_name_plural = _("portal sessions")
        ordering = ["-started_at"]
        constraints = [
            choices_check("method", SignInMethod, "portalsession_method_valid"),
            models.CheckConstraint(
                condition=(Q(ended_at__isnull=True) & Q(end_reason=""))
                | (Q(ended_at__isnull=False) & Q(end_reason__in=SessionEnd.values)),
                name="portalsession_ended_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.get_method_display()}"

    @property
    def idle_until(self) -> datetime:
        return self.last_seen_at + settings.PORTAL_SESSION_IDLE
