"""The portal's access matrix: every portal URL × every method × every kind of reader × the own and another
patient's plan → the expected status (and, for a redirect, where to).

Readers: the patient (Kirsten), her relatives with consent to the whole plan, to appointments only and with
a consent withdrawn after they signed in, a relative of another patient (Ole, whose plan the portal shows
too), a staff user signed in on the staff side only, and anonymous. The rules (issue 14):
- the patient reads her plan and her access log; a relative reads the plan within their consent, never the
  access log; a withdrawn consent is refused at once; any plan one may not read is 404, as a missing one;
- printing: the patient and a relative ask for and open the plan's documents within their consent (one
  with appointments only: not the whole plan's); the PDF is a read, the pages about documents are not;
- questionnaires (issue 16): a questionnaire is only its own person's — the patient answers hers (a
  relative, even with the whole plan, gets 404), a relative their own; answering leads to the thanks;
  opening one to answer it is one access-log row, sending the answers none;
- staff and anonymous are strangers: every page that needs a portal session sends them to its sign-in;
- the sign-in pages answer everyone alike; a method a page does not take is 405;
- a plan page or access log shown writes one access-log row for the patient; a refusal writes none, and
  so does a HEAD request (answered as a GET, but it shows nothing).
The walk of portal.urls fails for a new portal URL without rows here.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pathways import documents, services
from pathways.choices import DocumentContent, DocumentKind, DocumentState, PlanStatus
from pathways.models import AccessLog, PlanDocument
from portal.urls import urlpatterns
from quality.choices import RequestState
from quality.instruments import WHO5_KEY, ship
from quality.models import Questionnaire, QuestionnaireRequest
from relatives import services as relatives_services
from relatives.choices import ConsentMethod, ConsentScope, Relation, RelativeChannel
from tests.conftest import sign_in
from tests.portal.matrix_portal import _sign_in

READERS = [
    "patient",
    "relative_whole_plan",
    "relative_appointments",
    "relative_revoked",
    "other_patients_relative",
    "staff",
    "anonymous",
]
STRANGERS = ("staff", "anonymous")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")  # HEAD: as GET, but never an access-log row

# Where a redirect goes: the portal's sign-in, the own or the other plan, "sent", the code page, signed out.
SIGN_IN, OWN_PLAN, OTHER_PLAN = (302, "sign-in"), (302, "own-plan"), (302, "other-plan")
SENT, CODE, SIGNED_OUT = (302, "sent"), (302, "code"), (302, "signed-out")


def everyone(expected: Any) -> dict[str, Any]:
    return dict.fromkeys(READERS, expected)


def portal_readers(**statuses: Any) -> dict[str, Any]:
    """The five portal readers' statuses as given; staff and anonymous are sent to sign in."""
    assert set(statuses) == set(READERS) - set(STRANGERS)
    return statuses | dict.fromkeys(STRANGERS, SIGN_IN)


# A whole-plan document: its patient and a relative with the whole plan; not one with appointments only.
WHOLE_PLAN_DOCUMENT = portal_readers(
    patient=200,
    relative_whole_plan=200,
    relative_appointments=404,
    relative_revoked=404,
    other_patients_relative=404,
)
OTHER_DOCUMENT = portal_readers(
    patient=404,
    relative_whole_plan=404,
    relative_appointments=404,
    relative_revoked=404,
    other_patients_relative=200,
)

WHO5_LINKS = ("cheerful", "calm", "active", "rested", "interest")
# A questionnaire: its own person's alone (Kirsten's; on Ole's plan, his relative Jonna's).
OWN_QUESTIONNAIRE = portal_readers(
    patient=200,
    relative_whole_plan=404,
    relative_appointments=404,
    relative_revoked=404,
    other_patients_relative=404,
)
OTHER_QUESTIONNAIRE = portal_readers(
    patient=404,
    relative_whole_plan=404,
    relative_appointments=404,
    relative_revoked=404,
    other_patients_relative=200,
)

# name → (object kind or None, {method: {reader: expected}} or {method: {"own"/"other": {reader: expected}}}).
# Methods without rows must be 405 for everyone (HEAD follows GET). Sign-out comes last: it ends the session.
MATRIX: dict[str, tuple[str | None, dict[str, Any]]] = {
    "portal:home": (
        None,
        {
            "GET": portal_readers(
                patient=OWN_PLAN,
                relative_whole_plan=OWN_PLAN,
                relative_appointments=OWN_PLAN,
                relative_revoked=200,  # nothing to read: a kind page says whom to ask
                other_patients_relative=OTHER_PLAN,
            )
        },
    ),
    "portal:plan": (
        "plan",
        {
            "GET": {
                "own": portal_readers(
                    patient=200,
                    relative_whole_plan=200,
                    relative_appointments=200,  # the appointments only
                    relative_revoked=404,
                    other_patients_relative=404,
                ),
                "other": portal_readers(
                    patient=404,
                    relative_whole_plan=404,
                    relative_appointments=404,
                    relative_revoked=404,
                    other_patients_relative=200,
                ),
            }
        },
    ),
    # The patient's own: a relative, even with the whole plan, gets 404.
    "portal:access-log": (
        "plan",
        {
            "GET": {
                "own": portal_readers(
                    patient=200,
                    relative_whole_plan=404,
                    relative_appointments=404,
                    relative_revoked=404,
                    other_patients_relative=404,
                ),
                "other": portal_readers(
                    patient=404,
                    relative_whole_plan=404,
                    relative_appointments=404,
                    relative_revoked=404,
                    other_patients_relative=404,
                ),
            }
        },
    ),
    # Printing (issue 15): the pages and the button within the reader's plan; a document within their
    # consent scope too ("document": each plan's whole-plan document, which a relative with appointments
    # only may not open).
    "portal:documents": (
        "plan",
        {
            "GET": {
                "own": portal_readers(
                    patient=200,
                    relative_whole_plan=200,
                    relative_appointments=200,  # the appointments' documents
                    relative_revoked=404,
                    other_patients_relative=404,
                ),
                "other": portal_readers(
                    patient=404,
                    relative_whole_plan=404,
                    relative_appointments=404,
                    relative_revoked=404,
                    other_patients_relative=200,
                ),
            }
        },
    ),
    # The print button: on to the document's page (its own id, so no fixed target here).
    "portal:document-request": (
        "plan",
        {
            "POST": {
                "own": portal_readers(
                    patient=302,
                    relative_whole_plan=302,
                    relative_appointments=302,
                    relative_revoked=404,
                    other_patients_relative=404,
                ),
                "other": portal_readers(
                    patient=404,
                    relative_whole_plan=404,
                    relative_appointments=404,
                    relative_revoked=404,
                    other_patients_relative=302,
                ),
            }
        },
    ),
    "portal:document": ("document", {"GET": {"own": WHOLE_PLAN_DOCUMENT, "other": OTHER_DOCUMENT}}),
    "portal:document-download": ("document", {"GET": {"own": WHOLE_PLAN_DOCUMENT, "other": OTHER_DOCUMENT}}),
    # Questionnaires (issue 16): "questionnaire" is each plan's open WHO-5 sent to its own person (Kirsten's
    # to her, the one on Ole's plan to his relative Jonna: the other plan's reader); sending all the answers
    # leads to its thanks. "answered-questionnaire": the same people's, answered before.
    "portal:questionnaire": (
        "questionnaire",
        {
            "GET": {"own": OWN_QUESTIONNAIRE, "other": OTHER_QUESTIONNAIRE},
            "POST": {
                "own": OWN_QUESTIONNAIRE | {"patient": (302, "own-thanks")},
                "other": OTHER_QUESTIONNAIRE | {"other_patients_relative": (302, "other-thanks")},
            },
        },
    ),
    "portal:questionnaire-done": (
        "answered-questionnaire",
        {"GET": {"own": OWN_QUESTIONNAIRE, "other": OTHER_QUESTIONNAIRE}},
    ),
    "portal:sign-in": (None, {"GET": everyone(200), "POST": everyone(SENT)}),
    "portal:sign-in-sent": (None, {"GET": everyone(200)}),
    # The own plan's patient's link (valid: its button, then spent and on to the code); an unknown one.
    "portal:sign-in-link": (
        "link",
        {
            "GET": {"own": everyone(200), "other": everyone(410)},
            "POST": {"own": everyone(CODE), "other": everyone(410)},
        },
    ),
    # Not the browser that opened a link: "no longer works".
    "portal:sign-in-code": (None, {"GET": everyone(410), "POST": everyone(410)}),
    # GET asks "Do you want to sign out?" (a page for anyone signed in, even with nothing left to read);
    # the button POSTs.
    "portal:sign-out": (
        None,
        {
            "GET": portal_readers(
                patient=200,
                relative_whole_plan=200,
                relative_appointments=200,
                relative_revoked=200,
                other_patients_relative=200,
            ),
            "POST": everyone(SIGNED_OUT),
        },
    ),
}
BODIES = {
    "portal:sign-in": {"address": "nobody.portal@example.invalid"},
    "portal:sign-in-code": {"code": "123456"},
    "portal:document-request": {"kind": "patient"},
    "portal:questionnaire": {
        f"q-{link}": "3" for link in ("cheerful", "calm", "active", "rested", "interest")
    },
}
# A page shown here is one access-log row (the PDF too); the pages about documents show nothing of the plan.
# Opening a questionnaire to answer it is one too (sending the answers is none).
PLAN_READS = {"portal:plan", "portal:access-log", "portal:document-download", "portal:questionnaire"}


@dataclass
class PortalWorld:
    world: Any
    clients: dict[str, Client]
    documents: dict[str, PlanDocument]  # "own"/"other" → that plan's whole-plan document, made
    # "own"/"other" → that plan's WHO-5 sent to Kirsten / to Jonna (Ole's relative): open, and answered
    questionnaires: dict[str, QuestionnaireRequest]
    answered: dict[str, QuestionnaireRequest]

    def url(self, name: str, kind: str | None, ownership: str) -> str:
        plan = self.world.plan if ownership == "own" else self.world.other_plan
        if kind == "plan":
            return reverse(name, args=[plan.public_id])
        if kind == "document":
            return reverse(name, args=[plan.public_id, self.documents[ownership].public_id])
        if kind == "questionnaire":
            return reverse(name, args=[plan.public_id, self.questionnaires[ownership].public_id])
        if kind == "answered-questionnaire":
            return reverse(name, args=[plan.public_id, self.answered[ownership].public_id])
        if kind == "link":
            if ownership == "own":
                link = _sign_in(self.world)
                return reverse(name, args=[link.public_id, link.link_token()])
            return reverse(name, args=["00000000-0000-4000-8000-000000000000", "0" * 64])
        return reverse(name)

    def location(self, target: str) -> str:
        return {
            "sign-in": reverse("portal:sign-in"),
            "own-plan": reverse("portal:plan", args=[self.world.plan.public_id]),
            "other-plan": reverse("portal:plan", args=[self.world.other_plan.public_id]),
            "sent": reverse("portal:sign-in-sent"),
            "code": reverse("portal:sign-in-code"),
            "signed-out": reverse("portal:sign-in") + "?signed-out",
            "own-thanks": self._thanks("own"),
            "other-thanks": self._thanks("other"),
        }[target]

    def _thanks(self, ownership: str) -> str:
        asked = self.questionnaires[ownership]
        return reverse("portal:questionnaire-done", args=[asked.plan.public_id, asked.public_id])


def _relative(world, plan, name: str, scope: ConsentScope):
    return relatives_services.relative_add(
        actor=None,
        plan=plan,
        name=name,
        relation=Relation.CHILD,
        email=f"{name.split()[0].lower()}@example.invalid",
        preferred_channel=RelativeChannel.EMAIL,
        consent={"scope": scope, "method": ConsentMethod.SPOKEN, "coercion_checked": True},
    )


@pytest.fixture
def portal_world(world, portal_client) -> PortalWorld:
    """Kirsten's plan with three relatives, Ole's plan (shown in the portal too) with one, and a client per
    reader. The withdrawn consent is withdrawn after its relative signed in."""
    world.other_plan = services.plan_transition(
        actor=None, plan=world.other_plan, to_status=PlanStatus.ACTIVE
    )
    whole = _relative(world, world.plan, "Susanne Hansen", ConsentScope.WHOLE_PLAN)
    appointments = _relative(world, world.plan, "Mads Poulsen", ConsentScope.APPOINTMENTS)
    revoked = _relative(world, world.plan, "Emre Yilmaz", ConsentScope.WHOLE_PLAN)
    others = _relative(world, world.other_plan, "Jonna Andersen", ConsentScope.WHOLE_PLAN)
    clients = {
        "patient": portal_client(patient=world.patient),
        "relative_whole_plan": portal_client(relatives=[whole]),
        "relative_appointments": portal_client(relatives=[appointments]),
        "relative_revoked": portal_client(relatives=[revoked]),
        "other_patients_relative": portal_client(relatives=[others]),
        "staff": sign_in(Client(), world.coordinator),
        "anonymous": Client(),
    }
    relatives_services.relative_consent_revoke(
        actor=world.coordinator, relative=revoked, method=ConsentMethod.SPOKEN
    )
    return PortalWorld(
        world=world,
        clients=clients,
        documents={"own": _document_made(world.plan), "other": _document_made(world.other_plan)},
        questionnaires={"own": _asked(world.plan), "other": _asked(world.other_plan, others)},
        answered={
            "own": _asked(world.plan, answered=True),
            "other": _asked(world.other_plan, others, answered=True),
        },
    )


def _asked(plan, relative=None, *, answered: bool = False) -> QuestionnaireRequest:
    """WHO-5 sent to the patient (or `relative`) on `plan`: open, or answered (put in that state by hand:
    who may open it is the matter here; tests/portal/test_questionnaires.py answers real ones)."""
    ship(apps)
    today = timezone.localdate()
    return QuestionnaireRequest.objects.create(
        plan=plan,
        questionnaire=Questionnaire.objects.get(key=WHO5_KEY),
        relative=relative,
        occurrence="answered" if answered else "start",
        opens_on=today,
        expires_on=today + timedelta(days=14),
        state=RequestState.ANSWERED if answered else RequestState.OPEN,
        closed_at=timezone.now() if answered else None,
    )


def _document_made(plan) -> PlanDocument:
    """The plan's whole-plan document, as if a worker had made it (who may open it is the matter here,
    not what is in it: tests/portal/test_documents.py renders real ones)."""
    document = documents.document_request(
        plan=plan, kind=DocumentKind.PATIENT, content=DocumentContent.WHOLE_PLAN, requester=None
    )
    PlanDocument.objects.filter(pk=document.pk).update(
        state=DocumentState.DONE, pdf=b"%PDF-1.7 matrix", pages=1, progress=100, finished_at=timezone.now()
    )
    return document


def _send(client: Client, method: str, path: str, body: dict[str, str] | None):
    cookies = deepcopy(client.cookies)
    if body and method == "POST":
        response = client.generic(
            method, path, urlencode(body), content_type="application/x-www-form-urlencoded"
        )
    else:
        response = client.generic(method, path)
    client.cookies = cookies  # a cookie set or deleted by one answer does not carry over
    return response


def _expected(rule: dict[str, Any], kind: str | None, reader: str, ownership: str) -> Any:
    return rule[ownership][reader] if kind else rule[reader]


def test_every_portal_url_has_rows():
    names = {f"portal:{pattern.name}" for pattern in urlpatterns}
    assert names == set(MATRIX), "a portal URL without rows in the portal's matrix (or rows for none)"


@pytest.mark.parametrize("reader", READERS)
def test_portal_matrix(portal_world, reader):
    client = portal_world.clients[reader]
    wrong = []
    for name, (kind, rows) in MATRIX.items():
        for ownership in ("own", "other") if kind else ("-",):
            for method in METHODS:
                rule = rows.get("GET" if method == "HEAD" else method)
                expected = _expected(rule, kind, reader, ownership) if rule is not None else 405
                status, target = expected if isinstance(expected, tuple) else (expected, None)
                path = portal_world.url(name, kind, ownership)
                logged = AccessLog.objects.count()
                response = _send(client, method, path, BODIES.get(name))
                case = f"{method} {name} ({ownership})"
                if response.status_code != status:
                    wrong.append(f"{case}: {response.status_code}, not {status}")
                    continue
                if target is not None and response["Location"] != portal_world.location(target):
                    wrong.append(f"{case}: to {response['Location']}, not {target}")
                written = AccessLog.objects.count() - logged
                reads = int(name in PLAN_READS and status == 200 and method == "GET")
                if written != reads:
                    wrong.append(f"{case}: {written} access-log rows, not {reads}")
                if status in (404, 405, 410):
                    body = response.content.decode()
                    if "Kirsten" in body or "Ole" in body:
                        wrong.append(f"{case}: patient data on a refusal")
                if method in ("GET", "HEAD") and status == 200:
                    cache = {part.strip() for part in response["Cache-Control"].split(",")}
                    if not {"private", "no-store"} <= cache:
                        wrong.append(f"{case}: Cache-Control {response['Cache-Control']!r}")
    assert wrong == [], f"as {reader}"


def test_a_portal_session_opens_nothing_on_the_staff_side(portal_world):
    """Staff sessions and portal sessions never mix: the patient's portal cookie is no staff sign-in."""
    client = portal_world.clients["patient"]
    world = portal_world.world

    caseload = client.get(reverse("pathways:caseload"))
    plan = client.get(reverse("pathways:plan-detail", args=[world.plan.public_id]))

    assert caseload.status_code == 302
    assert caseload["Location"].startswith(reverse("login"))
    assert plan.status_code == 302
    assert plan["Location"].startswith(reverse("login"))
