"""The portal's choices: who reads (the patient or a relative), how a sign-in proved who they are, and
why a portal session ended."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ReaderRole(models.TextChoices):
    PATIENT = "patient", _("The patient")
    RELATIVE = "relative", _("A relative")


class SignInMethod(models.TextChoices):
    """How a portal session was begun. Only the one-time link and code exists here; in production MitID
    through NemLog-in (OIDC) takes its place behind portal.signin (README, "The portal's sign-in")."""

    LINK_AND_CODE = "link_and_code", _("One-time link and code")


class SessionEnd(models.TextChoices):
    SIGNED_OUT = "signed_out", _("Signed out")
    IDLE = "idle", _("No activity for 30 minutes")
    EXPIRED = "expired", _("Signed in for 12 hours")
