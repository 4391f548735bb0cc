"""The access matrix's rows for the portal (merged by tests/test_access_matrix.py, PARTS).

The matrix's roles are the staff and anonymous: in the portal they are all strangers, since a staff sign-in
opens nothing there (portal.views.base). Every portal page that needs a portal session sends them to the
portal's sign-in (302) before anything is looked up; the sign-in pages answer everyone alike; methods a
page does not take are 405. What the patient and relatives may open is tests/portal/test_portal_matrix.py.

The sign-in link of the own plan is a real one (its patient's, valid for a day so that it outlives the
module's run); the foreign plan's is a link that does not exist, which is "no longer works" (410) like a
used or expired one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

from django.apps import apps
from django.utils import timezone

from pathways.choices import DocumentContent, DocumentKind, NotificationChannel
from pathways.documents import document_request
from pathways.models import PlanDocument
from portal.choices import SignInMethod
from portal.models import PortalSession, PortalSignIn
from portal.signin import portal_session_start
from quality.instruments import WHO5_KEY, ship
from quality.models import Questionnaire, QuestionnaireRequest

ROLES = ["anonymous", "admin", "coordinator", "hospital_doctor", "home_nurse", "gp_doctor", "outsider"]
LINK_EMAIL = "matrix.portal@example.invalid"  # the own plan's sign-in (the world's patients have none)
UNKNOWN_ADDRESS = "nobody.portal@example.invalid"


def _everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def _both(status: int) -> dict[str, dict[str, int]]:
    return {"own": _everyone(status), "other": _everyone(status)}


ROWS: dict[str, tuple[str | None, dict[str, Any]]] = {
    # Pages of a signed-in patient or relative: to the portal's sign-in (staff are strangers here).
    "portal:home": (None, {"GET": _everyone(302)}),
    "portal:plan": ("plan", {"GET": _both(302)}),
    "portal:access-log": ("plan", {"GET": _both(302)}),
    # Printing (issue 15): the pages, the print button (POST only) and the PDF.
    "portal:documents": ("plan", {"GET": _both(302)}),
    "portal:document-request": ("plan", {"POST": _both(302)}),
    "portal:document": ("portal-document", {"GET": _both(302)}),
    "portal:document-download": ("portal-document", {"GET": _both(302)}),
    # Questionnaires (issue 16): the answer page (GET shows it, POST sends the answers) and the thanks.
    "portal:questionnaire": ("portal-questionnaire", {"GET": _both(302), "POST": _both(302)}),
    "portal:questionnaire-done": ("portal-questionnaire", {"GET": _both(302)}),
    # Asking for a link: the same answer (on to "sent") whether the address is known or not.
    "portal:sign-in": (None, {"GET": _everyone(200), "POST": _everyone(302)}),
    "portal:sign-in-sent": (None, {"GET": _everyone(200)}),
    # A link works for whoever holds it (GET shows its button, POST spends it and sends the code); an
    # unknown one is "no longer works".
    "portal:sign-in-link": (
        "portal-sign-in-link",
        {
            "GET": {"own": _everyone(200), "other": _everyone(410)},
            "POST": {"own": _everyone(302), "other": _everyone(410)},
        },
    ),
    # Only the browser that opened a link may type its code: without its cookie, "no longer works".
    "portal:sign-in-code": (None, {"GET": _everyone(410), "POST": _everyone(410)}),
    # Signing out: GET asks first, POST signs out; without a portal session both only send back to the
    # sign-in page.
    "portal:sign-out": (None, {"GET": _everyone(302), "POST": _everyone(302)}),
}
# Open to everyone, signed in or not: their redirects are no request to sign in (test_access_matrix's PUBLIC).
PUBLIC = {"portal:sign-in", "portal:sign-in-link", "portal:sign-out"}


def _sign_in(world: Any) -> PortalSignIn:
    """The own plan's patient's sign-in whose link is still unopened, made where there is none."""
    found = PortalSignIn.objects.filter(email=LINK_EMAIL, link_opened_at__isnull=True).first()
    if found is not None:
        return found
    now = timezone.now()
    return PortalSignIn.objects.create(
        plan=world.plan,
        patient=world.patient,
        link_channel=NotificationChannel.EMAIL,
        code_channel=NotificationChannel.EMAIL,
        email=LINK_EMAIL,
        salt=secrets.token_hex(32),
        created_at=now,
        expires_at=now + timedelta(days=1),
    )


def _link(world: Any, plan: Any) -> list[Any]:
    if plan == world.plan:
        sign_in = _sign_in(world)
        return [sign_in.public_id, sign_in.link_token()]
    return [uuid4(), secrets.token_hex(32)]


def _session(world: Any) -> PortalSession:
    found = PortalSession.objects.filter(patient=world.patient).first()
    if found is not None:
        return found
    session, _key = portal_session_start(method=SignInMethod.LINK_AND_CODE, patient=world.patient)
    return session


def _document(world: Any, plan: Any) -> list[Any]:
    """The plan's printed plan for the patient (made where there is none)."""
    found = PlanDocument.objects.listed().filter(plan=plan, kind=DocumentKind.PATIENT).first()
    if found is None:
        found = document_request(
            plan=plan, kind=DocumentKind.PATIENT, content=DocumentContent.WHOLE_PLAN, requester=None
        )
    return [plan.public_id, found.public_id]


WHO5_LINKS = ("cheerful", "calm", "active", "rested", "interest")


def _questionnaire(world: Any, plan: Any) -> list[Any]:
    """The plan's patient's open WHO-5 (sent where there is none)."""
    ship(apps)  # the shipped questionnaires (a transactional test empties the tables they came in)
    found = QuestionnaireRequest.objects.filter(plan=plan, relative__isnull=True).first()
    if found is None:
        today = timezone.localdate()
        found = QuestionnaireRequest.objects.create(
            plan=plan,
            questionnaire=Questionnaire.objects.get(key=WHO5_KEY),
            occurrence="matrix",
            opens_on=today,
            expires_on=today + timedelta(days=14),
        )
    return [plan.public_id, found.public_id]


BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "portal:sign-in": lambda _asker: {"address": UNKNOWN_ADDRESS},
    "portal:document-request": lambda _asker: {"kind": DocumentKind.PATIENT},
    "portal:questionnaire": lambda _asker: {f"q-{link}": "3" for link in WHO5_LINKS},
    "portal:sign-in-code": lambda _asker: {"code": "123456"},
}
# None: the foreign plan's link answers 410, which the matrix does not count as a refusal. That the own
# plan's link is a real one shows in its rows: 200 for its button (an unusable link is 410) and a 302 on to
# the code (a link that could not be spent is 410).
CHANGES: set[str] = set()
URL_KINDS: dict[str, Callable[[Any, Any], list[Any]]] = {
    "portal-sign-in-link": _link,
    "portal-document": _document,
    "portal-questionnaire": _questionnaire,
}
# The portal's records are read-only in the administration (written by the sign-in only).
ADMIN_MODELS: dict[str, tuple[str | None, frozenset[str]]] = {
    "portal_portalsignin": ("portal_sign_in", frozenset()),
    "portal_portalsession": ("portal_session", frozenset()),
}
ADMIN_ADD_BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {}
ADMIN_ROWS_OF: dict[str, Callable[[Any], Any]] = {
    "portal_sign_in": _sign_in,
    "portal_session": _session,
}


def build(world: Any) -> None:
    """The own plan's sign-in link and a portal session of its patient (for the administration's pages),
    and each plan's questionnaire (made before any request: a refused one must change nothing)."""
    _sign_in(world)
    _session(world)
    _questionnaire(world, world.plan)
    _questionnaire(world, world.other_plan)
