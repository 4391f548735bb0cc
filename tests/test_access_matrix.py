"""Every URL × every HTTP method its view accepts × every role × own/foreign plan → the expected status.

The tables below are the access policy as the pages, the API and the admin answer it. The suite fails when
- a URL pattern has no name (only Django admin's own unnamed patterns and those in UNNAMED may lack one;
  they get rows by their route), or a URL has no rows;
- a view accepts a method its URL has no rows for: every method without rows must be answered 405;
- a status differs from its row (`test_matrix` for GET, `test_matrix_writes` for POST, PUT, PATCH and
  DELETE, `test_admin_matrix` for the admin), or a refused write changed anything in the database but the
  logging of the refusal itself.

Admin URLs follow one rule: only administrators get in; everyone else is sent to the admin login before any
object is looked up.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypedDict
from urllib.parse import urlencode
from uuid import uuid4

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.client import ClientHandler
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RegexPattern
from django.utils import timezone

from pathways import outbox, services
from pathways.choices import (
    AccessAction,
    AccessPurpose,
    GoalStatus,
    MembershipRole,
    NotificationChannel,
    NotificationKind,
    NotificationState,
    Sector,
    SecurityEventKind,
    TaskKind,
    TaskStatus,
)
from pathways.models import (
    AccessLog,
    EmergencyAccess,
    Goal,
    Membership,
    Notification,
    Organisation,
    PathwayPlan,
    Patient,
    PlanParticipant,
    SecurityEvent,
    Task,
    User,
)
from tests import conftest
from tests.conftest import PASSWORD, make_user, sign_in
from tests.coordination import matrix_assessment, matrix_disputes, matrix_messages, matrix_worklist
from tests.pathways import matrix_documents, matrix_ingest, matrix_stays, matrix_templates
from tests.portal import matrix_portal
from tests.quality import matrix_dashboard, matrix_questionnaires
from tests.relatives import matrix_children, matrix_consent, matrix_support

# The other apps' rows, one module per part (see tests/coordination/matrix_disputes.py): ROWS (as MATRIX),
# BODIES, CHANGES, URL_KINDS (object kind → (world, plan) → the URL's arguments), build(world) (the objects
# its URLs point at, made once in the module's world), ADMIN_MODELS, ADMIN_ADD_BODIES and ADMIN_ROWS_OF
# (admin row name → world → the row).
PARTS = (
    matrix_assessment,
    matrix_disputes,
    matrix_messages,
    matrix_worklist,
    matrix_templates,
    matrix_stays,
    matrix_ingest,
    matrix_consent,
    matrix_support,
    matrix_children,
    matrix_portal,
    matrix_documents,
    matrix_questionnaires,
    matrix_dashboard,
)

ROLES = ["anonymous", "admin", "coordinator", "hospital_doctor", "home_nurse", "gp_doctor", "outsider"]
STAFF = ROLES[1:]
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
WRITES = METHODS[1:]

# The organisation each role works in (the administrator works in none).
WORKS_IN = {
    "coordinator": "municipality",
    "home_nurse": "municipality",
    "hospital_doctor": "hospital",
    "gp_doctor": "gp",
    "outsider": "unrelated",
}


def everyone(status, anonymous=None):
    return dict.fromkeys(STAFF, status) | {"anonymous": status if anonymous is None else anonymous}


def both_plans(rule):
    return {"own": rule, "other": rule}


# The users who see the fixture's own plan (Kirsten): its three sectors and its coordinator.
IN_PLAN = {"coordinator", "hospital_doctor", "home_nurse", "gp_doctor"}


def plan_rule(ok: int, anonymous: int) -> dict[str, dict[str, int]]:
    """Own plan: the plan's sectors see it. Foreign plan: only the outsider's organisation does."""
    return {
        "own": {role: ok if role in IN_PLAN else 404 for role in STAFF} | {"anonymous": anonymous},
        "other": {role: ok if role == "outsider" else 404 for role in STAFF} | {"anonymous": anonymous},
    }


def coordinator_only(ok: int) -> dict[str, dict[str, int]]:
    """Only the plan's coordinator; the plan's other sectors are refused, outsiders see nothing."""
    return {
        "own": {
            "coordinator": ok,
            "hospital_doctor": 403,
            "home_nurse": 403,
            "gp_doctor": 403,
            "admin": 404,
            "outsider": 404,
            "anonymous": 302,
        },
        # The foreign plan has no coordinator: the outsider's organisation takes part, but may not do it.
        "other": {role: 403 if role == "outsider" else 404 for role in STAFF} | {"anonymous": 302},
    }


def municipality_side(ok: int) -> dict[str, dict[str, int]]:
    """The own plan's object is the municipality's (its home visit, its commitment): its nurse and the
    coordinator act for it, the plan's other sectors are refused. The foreign plan's is the outsider's."""
    return {
        "own": {
            "coordinator": ok,
            "home_nurse": ok,
            "hospital_doctor": 403,
            "gp_doctor": 403,
            "admin": 404,
            "outsider": 404,
            "anonymous": 302,
        },
        "other": {role: ok if role == "outsider" else 404 for role in STAFF} | {"anonymous": 302},
    }


# name → (object kind or None, {method: expectations}). Expectations: {role: status}, or {"own"/"other":
# {role: status}} when the URL names an object (see `_url`). The methods listed are the URL's rows; a method
# without rows must be refused with 405. POST rows send a body that would change something (BODIES), so a
# refusal that still wrote would show. (tests/test_hostile_input.py and tests/config/test_security_headers.py
# walk these names too.)
MATRIX: dict[str, tuple[str | None, dict[str, Any]]] = {
    # An empty form is shown again; Django's form view takes PUT as POST (with an unparsed, empty body).
    "login": (None, {"GET": everyone(200), "POST": everyone(200), "PUT": everyone(200)}),
    "logout": (None, {"GET": everyone(405), "POST": everyone(302)}),  # logging out is a POST
    # Django's view: a POST sets the language; any other method only sends the browser back.
    "set_language": (None, dict.fromkeys(METHODS, everyone(302))),
    "healthz": (None, {"GET": everyone(503)}),  # public; 503 because no Celery worker runs in this test
    "pathways:caseload": (None, {"GET": everyone(200, anonymous=302)}),
    # POST only: no CPR number in URLs. It searches the user's own plans.
    "pathways:caseload-cpr-search": (
        None,
        {"GET": everyone(405, anonymous=302), "POST": everyone(200, anonymous=302)},
    ),
    "pathways:plan-detail": ("plan", {"GET": plan_rule(200, anonymous=302)}),
    "pathways:plan-history": ("plan", {"GET": plan_rule(200, anonymous=302)}),
    "pathways:cpr-reveal-partial": (
        "plan",
        {"GET": both_plans(everyone(405, anonymous=302)), "POST": plan_rule(302, anonymous=302)},
    ),
    "pathways:what-matters-partial": ("plan", {"GET": coordinator_only(200), "POST": coordinator_only(302)}),
    "pathways:plan-access-log": ("plan", {"GET": coordinator_only(200)}),
    "pathways:goal-create-partial": ("plan", {"GET": coordinator_only(200), "POST": coordinator_only(302)}),
    "pathways:goal-edit-partial": (
        "plan-goal",
        {"GET": coordinator_only(200), "POST": coordinator_only(302)},
    ),
    "pathways:task-edit-partial": (
        "plan-task",
        {"GET": municipality_side(200), "POST": municipality_side(302)},
    ),
    # Break the glass: every clinician may ask (and must give a reason); an administrator is no clinician.
    # The body names the own plan's patient: its sectors are sent to the plan they see anyway, the outsider
    # is let in for a few hours.
    "pathways:emergency-access": (
        None,
        {
            "GET": everyone(200, anonymous=302) | {"admin": 403},
            "POST": everyone(302, anonymous=302) | {"admin": 403},
        },
    ),
    # An emergency access to a plan is marked seen by the plan's coordinator (the foreign plan has none).
    "pathways:emergency-access-acknowledge-partial": (
        "grant",
        {
            "GET": both_plans(everyone(405, anonymous=302)),
            "POST": {"own": everyone(404, anonymous=302) | {"coordinator": 302}, "other": everyone(404, 302)},
        },
    ),
    # The bell's list: every signed-in user has one (perhaps empty), of their own messages only.
    "pathways:notifications": (None, {"GET": everyone(200, anonymous=302)}),
    # The print queue: every signed-in user has one (perhaps empty); a letter is printed by the plan's
    # coordinator's organisation (the municipality: coordinator and home nurse) or, in a plan without a
    # coordinator, by the organisations taking part (the foreign plan: the outsider's).
    "pathways:letters": (None, {"GET": everyone(200, anonymous=302)}),
    "pathways:letter": (
        "letter",
        {
            "GET": {
                "own": everyone(404, anonymous=302) | {"coordinator": 200, "home_nurse": 200},
                "other": everyone(404, anonymous=302) | {"outsider": 200},
            }
        },
    ),
    "pathways:letter-printed": (
        "letter",
        {
            "GET": both_plans(everyone(405, anonymous=302)),
            "POST": {
                "own": everyone(404, anonymous=302) | {"coordinator": 302, "home_nurse": 302},
                "other": everyone(404, anonymous=302) | {"outsider": 302},
            },
        },
    ),
    # Marks read what the user's bell counts, their own messages only (some roles have none).
    "pathways:notifications-read-all": (
        None,
        {"GET": everyone(405, anonymous=302), "POST": everyone(302)},
    ),
    # A message is its recipient's alone: the own plan's is the home nurse's, the foreign plan's the
    # outsider's. Anyone else gets 404, as for a message that does not exist, and nothing is logged.
    "pathways:notification-read-partial": (
        "notification",
        {
            "GET": both_plans(everyone(405, anonymous=302)),
            "POST": {
                "own": everyone(404, anonymous=302) | {"home_nurse": 302},
                "other": everyone(404, anonymous=302) | {"outsider": 302},
            },
        },
    ),
    # Sign-in steps and the account's own security page: no patient data, every signed-in user.
    "pathways:mfa-verify": (None, {"GET": everyone(302), "POST": everyone(302)}),  # sent on
    # The posted code is wrong: the page is shown again.
    "pathways:mfa-setup": (None, {"GET": everyone(200, anonymous=302), "POST": everyone(200, anonymous=302)}),
    "pathways:account-security": (None, {"GET": everyone(200, anonymous=302)}),
    # New codes for the administrator; the others have no second step yet and are sent to set one up.
    "pathways:recovery-codes-regenerate": (
        None,
        {"GET": everyone(405, anonymous=302), "POST": everyone(302) | {"admin": 200}},
    ),
    "pathways:mfa-remove": (None, {"GET": everyone(405, anonymous=302), "POST": everyone(302)}),
    "pathways:logout-everywhere": (None, {"GET": everyone(405, anonymous=302), "POST": everyone(302)}),
    "pathways:task-create": ("plan", {"GET": plan_rule(200, anonymous=302), "POST": plan_rule(302, 302)}),
    # Changes are POST only; a GET is refused before anything is looked up.
    "pathways:task-status-partial": (
        "plan-task",
        {"GET": both_plans(everyone(405, anonymous=302)), "POST": municipality_side(302)},
    ),
    # The own plan's first commitment is the hospital's: only the hospital accepts it, not even the plan's
    # coordinator accepts for another organisation. The foreign plan's is the outsider's.
    "pathways:participant-accept-partial": (
        "plan-participant",
        {
            "GET": both_plans(everyone(405, anonymous=302)),
            "POST": {
                "own": {role: 403 if role in IN_PLAN else 404 for role in STAFF}
                | {"hospital_doctor": 302, "anonymous": 302},
                "other": {role: 302 if role == "outsider" else 404 for role in STAFF} | {"anonymous": 302},
            },
        },
    ),
    # The API reads only: its views refuse every other method (405).
    "api:plan-list": (None, {"GET": everyone(200, anonymous=403)}),
    "api:plan-detail": ("plan", {"GET": plan_rule(200, anonymous=403)}),
    "api:plan-task-list": ("plan", {"GET": plan_rule(200, anonymous=403)}),
    "api:task-detail": ("task", {"GET": plan_rule(200, anonymous=403)}),
    # API writes: a task's status by its organisation or the coordinator (428: a change names the version
    # it read, If-Match, which the matrix does not send; tests/pathways/test_api_writes.py does); a new
    # task by any sector taking part, for itself; a hospital event by a hospital taking part; a message by
    # any sector taking part (the foreign plan has no one else to write to: 400, so it is not in CHANGES;
    # tests/pathways/test_api_writes.py sends messages that are let in).
    "api:task-status": (
        "task",
        {
            "GET": both_plans(everyone(405, anonymous=403)),
            "POST": {
                "own": {
                    role: 428 if role in ("coordinator", "home_nurse") else 403 if role in IN_PLAN else 404
                    for role in STAFF
                }
                | {"anonymous": 403},
                "other": {role: 428 if role == "outsider" else 404 for role in STAFF} | {"anonymous": 403},
            },
        },
    ),
    "api:plan-task-create": (
        "plan",
        {"GET": both_plans(everyone(405, anonymous=403)), "POST": plan_rule(201, anonymous=403)},
    ),
    "api:hospital-event": (
        "plan",
        {
            "GET": both_plans(everyone(405, anonymous=403)),
            "POST": {
                "own": {
                    role: 201 if role == "hospital_doctor" else 403 if role in IN_PLAN else 404
                    for role in STAFF
                }
                | {"anonymous": 403},
                "other": {role: 403 if role == "outsider" else 404 for role in STAFF} | {"anonymous": 403},
            },
        },
    ),
    "api-coordination:message-post": (
        "plan",
        {
            "GET": both_plans(everyone(405, anonymous=403)),
            "POST": {
                "own": plan_rule(201, anonymous=403)["own"],
                "other": {role: 400 if role == "outsider" else 404 for role in STAFF} | {"anonymous": 403},
            },
        },
    ),
    # The plan as FHIR: whoever may see the plan (break the glass included), as an OperationOutcome else.
    "api:plan-fhir": ("plan", {"GET": plan_rule(200, anonymous=403)}),
    # FHIR search by CPR number: POST only (never a CPR number in an address); every signed-in user
    # searches the plans they may see (none for the outsider: an empty searchset).
    "api:fhir-careplan-search": (
        None,
        {"GET": everyone(405, anonymous=403), "POST": everyone(200, anonymous=403)},
    ),
    # POST only, open to all (it is the sign-in for integrations); an empty body is a bad request.
    "api:auth-token": (None, {"GET": everyone(405), "POST": everyone(400)}),
    "api-schema": (None, {"GET": everyone(200, anonymous=403)}),
    "api-docs": (None, {"GET": everyone(200, anonymous=403)}),
    # config/urls.py: the admin's own login, shadowed by a redirect to the one sign-in page (throttled, with
    # the second step), whatever the method.
    "admin-sign-in": (None, dict.fromkeys(METHODS, everyone(302))),
}

# The patterns outside the admin that may lack a name, by route, with their rows; any other pattern without
# a name fails the suite. Django admin's own (a model's bare object URL, which redirects to its change page,
# and the catch-all) are let through by `_django_admin_unnamed` and have rows in the admin matrix.
UNNAMED: dict[str, tuple[str | None, dict[str, Any]]] = {}
for _part in PARTS:
    MATRIX |= _part.ROWS
PAGES = MATRIX | UNNAMED  # every row outside the admin, by name or route

# Open to everyone, signed in or not: their redirects are no request to sign in.
PUBLIC = {"login", "logout", "set_language", "api:auth-token", "admin-sign-in"}
for _part in PARTS:  # a part's own public pages (the portal's sign-in: its own sign-in page, not /login/)
    PUBLIC |= getattr(_part, "PUBLIC", set())


# --- What object URLs point at, and the bodies of the POST rows ---------------------------------------------


def _version(obj: Any) -> int:
    return type(obj).objects.values_list("version", flat=True).get(pk=obj.pk)


def _goal(plan: PathwayPlan) -> Goal:
    return plan.goals.order_by("pk").first() or services.goal_create(actor=None, plan=plan, description="Mål")


def _task(world, plan: PathwayPlan) -> Task:
    found = plan.tasks.order_by("pk").first()
    return found or services.task_create(
        actor=None, plan=plan, title="Matrix task", responsible_organisation=world.unrelated
    )


def _participant(plan: PathwayPlan) -> PlanParticipant:
    participant = plan.participants.order_by("pk").first()
    assert participant is not None
    return participant


def _delivered(key: str) -> None:
    """Every in-app message and letter due, `key`'s among them, as the worker's claim leaves them: the
    module's world is built inside one transaction, where the worker's durable claim refuses to run."""
    assert Notification.objects.filter(dedupe_key=key).exists()
    Notification.objects.filter(
        state=NotificationState.PENDING,
        due_at__lte=timezone.now(),
        channel__in=[NotificationChannel.IN_APP, NotificationChannel.LETTER],
    ).update(state=NotificationState.SENT, sent_at=timezone.now(), attempts=1)


def _notification(world, plan: PathwayPlan) -> Notification:
    """An in-app message about the plan that has arrived: the home nurse's in the own plan, the outsider's
    in the foreign one (written and delivered where the world has none)."""
    recipient: User = world.home_nurse if plan == world.plan else world.outsider
    found = (
        Notification.objects.addressed_to(recipient)
        .filter(plan=plan, kind=NotificationKind.TASK_ASSIGNED, channel=NotificationChannel.IN_APP)
        .first()
    )
    if found is None:
        key = outbox.notify(
            recipient=recipient,
            kind=NotificationKind.TASK_ASSIGNED,
            channel=NotificationChannel.IN_APP,
            plan=plan,
            task=_task(world, plan),
            due_at=timezone.now(),
            event="matrix",
        )
        _delivered(key)
        found = Notification.objects.get(dedupe_key=key)
    return found


def _letter(plan: PathwayPlan) -> Notification:
    """A letter to the plan's patient in the print queue (written and delivered where there is none):
    the own plan's is printed by its coordinator's organisation (the municipality), the foreign plan's,
    which has no coordinator, by the organisation taking part (the outsider's)."""
    found = Notification.objects.filter(plan=plan, channel=NotificationChannel.LETTER).first()
    if found is None:
        key = outbox.notify(
            recipient=plan.patient,
            kind=NotificationKind.PLAN_STATUS_CHANGED,
            channel=NotificationChannel.LETTER,
            plan=plan,
            due_at=timezone.now(),
            event="matrix",
        )
        _delivered(key)
        found = Notification.objects.get(dedupe_key=key)
    return found


def _url(name: str, kind: str | None, world, ownership: str) -> str:
    """The URL on the world's own or foreign plan: its first goal, task and commitment (made where the world
    has none), its first emergency access (else an id no access has), its in-app message (`_notification`)."""
    if kind is None:
        return reverse(name)
    plan = world.plan if ownership == "own" else world.other_plan
    if kind == "notification":
        return reverse(name, args=[_notification(world, plan).public_id])
    if kind == "letter":
        return reverse(name, args=[_letter(plan).public_id])
    if kind == "grant":
        grant = EmergencyAccess.objects.filter(plan=plan).order_by("pk").first()
        return reverse(name, args=[grant.public_id if grant else uuid4()])
    if kind == "plan":
        return reverse(name, args=[plan.public_id])
    for part in PARTS:
        if kind in part.URL_KINDS:
            return reverse(name, args=part.URL_KINDS[kind](world, plan))
    if kind == "plan-goal":
        return reverse(name, args=[plan.public_id, _goal(plan).public_id])
    if kind == "plan-participant":
        return reverse(name, args=[plan.public_id, _participant(plan).public_id])
    task = _task(world, plan)
    if kind == "plan-task":
        return reverse(name, args=[plan.public_id, task.public_id])
    return reverse(name, args=[task.public_id])


@dataclass(frozen=True)
class Asker:
    """Who posts, to which plan: the objects are those `_url` points at."""

    world: Any
    plan: PathwayPlan
    role: str

    @property
    def task(self) -> Task:
        return _task(self.world, self.plan)

    @property
    def organisation(self) -> Organisation:
        """The role's organisation where it takes part in the plan, else the plan's first commitment's."""
        own = getattr(self.world, WORKS_IN[self.role]) if self.role in WORKS_IN else None
        if own is not None and self.plan.participants.filter(organisation=own).exists():
            return own
        return _participant(self.plan).organisation


# url name → form data that would change something if the request were let in.
BODIES: dict[str, Callable[[Asker], dict[str, Any]]] = {
    "pathways:caseload-cpr-search": lambda a: {"cpr": a.world.patient.cpr},
    "api:fhir-careplan-search": lambda a: {"patient.identifier": a.world.patient.cpr},
    "api:task-status": lambda _: {"status": "in_progress"},
    "api:plan-task-create": lambda a: {
        "title": "Ringe til Kirsten",
        "kind": "phone_call",
        "responsible_organisation": a.organisation.public_id,
    },
    # Leave from the admission build() made (a second admission to the same place is refused).
    "api:hospital-event": lambda a: {
        "kind": "leave_start",
        "occurred_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "hospital": a.world.hospital.public_id,
    },
    "api-coordination:message-post": lambda a: {
        "subject": "Udskrivelse",
        "body": "Kirsten udskrives fredag.",
        "sender_organisation": a.organisation.public_id,
        "recipients": [o.public_id for o in (a.world.hospital, a.world.municipality) if o != a.organisation][
            :1
        ],
    },
    "pathways:what-matters-partial": lambda a: {
        "what_matters": "At komme hjem til haven.",
        "version": _version(a.plan),
    },
    "pathways:goal-create-partial": lambda _: {"description": "Gå til bageren"},
    "pathways:goal-edit-partial": lambda a: {
        "description": "Gå til bageren hver dag",
        "status": GoalStatus.ACTIVE,
        "version": _version(_goal(a.plan)),
    },
    "pathways:task-create": lambda a: {
        "title": "Ny opgave",
        "kind": TaskKind.OTHER,
        "responsible_organisation": a.organisation.public_id,
        "visible_to_patient": "on",
    },
    "pathways:task-edit-partial": lambda a: {
        "title": "Besøg flyttet",
        "kind": a.task.kind,
        "responsible_organisation": a.task.responsible_organisation.public_id,
        "visible_to_patient": "on",
        "version": _version(a.task),
    },
    "pathways:task-status-partial": lambda a: {
        "status": TaskStatus.IN_PROGRESS,
        "version": _version(a.task),
    },
    "pathways:emergency-access": lambda a: {
        "cpr": a.world.patient.cpr,
        "organisation": getattr(a.world, WORKS_IN.get(a.role, "hospital")).public_id,
        "reason": "Indlagt akut med åndenød, har brug for planen.",
        "confirm": "on",
    },
    "pathways:mfa-verify": lambda _: {"code": "123456"},
    "pathways:mfa-setup": lambda _: {"code": "123456"},
    "set_language": lambda _: {"language": "en"},
}

# Where these are let in, their POST must change something: proof that the bodies are valid, so that the
# refusals of the same bodies mean something.
CHANGES = {
    "api:plan-task-create",
    "api:hospital-event",
    "pathways:what-matters-partial",
    "pathways:goal-create-partial",
    "pathways:goal-edit-partial",
    "pathways:task-create",
    "pathways:task-edit-partial",
    "pathways:task-status-partial",
    "pathways:participant-accept-partial",
    "pathways:notification-read-partial",
    "pathways:letter-printed",
}
for _part in PARTS:
    BODIES |= _part.BODIES
    CHANGES |= _part.CHANGES


# --- The admin ----------------------------------------------------------------------------------------------


def _all(status: int) -> dict[str, int]:
    return dict.fromkeys(METHODS, status)


# Admin pages of no model: what an administrator gets, per method. Django's function views answer every
# method (PUT, PATCH and DELETE are read like GET); its class-based views only those they define.
ADMIN_SITE: dict[str, dict[str, int]] = {
    "admin:index": _all(200),
    "admin:app_list": _all(200),
    "admin:login": _all(302),  # config/urls.py: to the one sign-in page
    "admin:logout": {"GET": 405, "POST": 302},  # logging out is a POST
    "admin:password_change": {"GET": 200, "POST": 200, "PUT": 200},  # an empty form is shown again
    "admin:password_change_done": {"GET": 200},
    "admin:autocomplete": {"GET": 403},  # without the field it completes for, the request is refused
    "admin:jsi18n": {"GET": 200},
    "admin:view_on_site": _all(404),  # a content type and an object that do not exist
    "admin:auth_user_password_change": _all(200),  # the coordinator's; an empty form is shown again
    "/admin/(?P<url>.*)$": _all(404),  # an admin page that does not exist
}


@dataclass(frozen=True)
class AdminModel:
    """A model in the admin: the row its object URLs point at (see `admin_ids`; None: an id no row has) and
    what an administrator may do there besides reading."""

    row: str | None
    may: frozenset[str]


ALL_RIGHTS = frozenset({"add", "change", "delete"})
ADMIN_MODELS: dict[str, AdminModel] = {
    "auth_group": AdminModel(None, ALL_RIGHTS),
    "authtoken_tokenproxy": AdminModel(None, ALL_RIGHTS),
    # django-axes' records of sign-in attempts are not added by hand.
    "axes_accessattempt": AdminModel(None, frozenset({"change", "delete"})),
    "axes_accesslog": AdminModel(None, frozenset({"change", "delete"})),
    "axes_accessfailurelog": AdminModel(None, frozenset({"change", "delete"})),
    "pathways_organisation": AdminModel("municipality", ALL_RIGHTS),
    "pathways_user": AdminModel("coordinator", ALL_RIGHTS),
    "pathways_membership": AdminModel("membership", ALL_RIGHTS),
    # Patients and plans are never deleted in the admin.
    "pathways_patient": AdminModel("patient", frozenset({"add", "change"})),
    "pathways_pathwayplan": AdminModel("plan", frozenset({"add", "change"})),
    "pathways_goal": AdminModel("goal", ALL_RIGHTS),
    "pathways_task": AdminModel("task", ALL_RIGHTS),
    # The logs and the audit trail are read-only, for superusers too; the audit trail has no page per event.
    "pathways_accesslog": AdminModel(None, frozenset()),
    "pathways_auditevent": AdminModel(None, frozenset()),
    "pathways_securityevent": AdminModel("security_event", frozenset()),
    "pathways_emergencyaccess": AdminModel("grant", frozenset()),
    # The outbox is read-only too; failed messages are sent again by an admin action on the list.
    "pathways_notification": AdminModel("notification", frozenset()),
}
for _part in PARTS:
    ADMIN_MODELS |= {model: AdminModel(row, may) for model, (row, may) in _part.ADMIN_MODELS.items()}


def _inline(prefix: str) -> dict[str, str]:
    """An inline formset with no rows."""
    return {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}


# Valid new rows for the add views of the hub's models (world → form data): the administrator creates them
# (302), everyone else is refused and nothing is written.
ADMIN_ADD_BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "pathways_organisation": lambda _: {
        "name": "Matrixklinikken",
        "sector": Sector.HOSPITAL,
        "sor_code": "9009",
        "is_active": "on",
        **_inline("children"),
    },
    "pathways_user": lambda _: {
        "username": "ny_bruger",
        "usable_password": "true",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **_inline("memberships"),
    },
    "pathways_membership": lambda world: {
        "user": world.outsider.pk,
        "organisation": world.municipality.pk,
        "role": MembershipRole.CLINICIAN,
        "started_at_0": "2026-01-05",
        "started_at_1": "08:00:00",
    },
    "pathways_patient": lambda _: {
        "cpr": "0202024321",
        "given_name": "Ny",
        "family_name": "Patientsen",
        "home_municipality": "265",
        "preferred_contact": "digital",
        "language": "da",
    },
    "pathways_pathwayplan": lambda _: {
        "patient": Patient.objects.get(family_name="Uden-plan").pk,
        "title": "Ny plan",
        **_inline("conditions"),
        **_inline("participants"),
        **_inline("goals"),
    },
    "pathways_goal": lambda world: {
        "plan": world.plan.pk,
        "description": "Nyt mål",
        "status": GoalStatus.PROPOSED,
        "sort_order": "0",
    },
    "pathways_task": lambda world: {
        "plan": world.plan.pk,
        "title": "Ny opgave",
        "kind": TaskKind.OTHER,
        "responsible_organisation": world.municipality.pk,
        "visible_to_patient": "on",
    },
}
for _part in PARTS:
    ADMIN_ADD_BODIES |= _part.ADMIN_ADD_BODIES


def _admin_model_statuses(model: AdminModel, view: str, *, with_body: bool) -> dict[str, int]:
    """What an administrator gets from one of a model's admin views, per method. A view they may not use
    is refused (403) first; a row that does not exist sends them to the admin's start page (302)."""
    found = 200 if model.row else 302
    if view == "changelist":
        return _all(200)
    if view == "add":
        if "add" not in model.may:
            return _all(403)
        return _all(200) | {"POST": 302 if with_body else 200}  # created, or the empty form shown again
    if view == "change":  # a POST needs the right to change; an empty form is shown again
        return _all(found) | {"POST": found if "change" in model.may else 403}
    if view == "history":
        return _all(found)
    if view == "delete":  # an empty POST is no confirmation: the page asking for one is shown again
        return _all(found) if "delete" in model.may else _all(403)
    return _all(302)  # the bare object URL redirects to the change page, found or not


_MODEL_VIEW = re.compile(r"^admin:(?P<model>\w+)_(?P<view>changelist|add|history|delete|change)$")
_OBJECT_URL = re.compile(r"^/admin/(?P<app>\w+)/(?P<model>\w+)/<path:object_id>/$")


def _admin_model_view(key: str) -> tuple[str, str] | None:
    """(model, view) for a model's admin URL, else None."""
    if key in ADMIN_SITE:
        return None
    if match := _MODEL_VIEW.match(key):
        return match["model"], match["view"]
    if match := _OBJECT_URL.match(key):
        return f"{match['app']}_{match['model']}", "object"
    return None


def admin_rows(key: str) -> dict[str, dict[str, int]] | None:
    """method → {role: status} for an admin URL, or None when no rule covers it (a URL without rows)."""
    model_view = _admin_model_view(key)
    if key in ADMIN_SITE:
        statuses = ADMIN_SITE[key]
    elif model_view and model_view[0] in ADMIN_MODELS:
        model, view = model_view
        statuses = _admin_model_statuses(ADMIN_MODELS[model], view, with_body=model in ADMIN_ADD_BODIES)
    else:
        return None
    # Everyone else is sent to the admin login before anything is looked up, whatever the method.
    return {method: everyone(302) | {"admin": status} for method, status in statuses.items()}


# --- Every URL and its rows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Url:
    key: str  # "namespace:name", or "/route" for a pattern without a name
    namespace: str
    pattern: URLPattern
    route: str


def walk(resolver=None, namespace="", prefix="") -> list[Url]:
    urls = []
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            urls += walk(pattern, inner, route)
        elif isinstance(pattern, URLPattern):
            key = namespace + pattern.name if pattern.name else f"/{route}"
            urls.append(Url(key, namespace.rstrip(":"), pattern, route))
    return urls


URLS = {url.key: url for url in walk()}  # every pattern
ALL_URLS = {key: url.pattern for key, url in URLS.items() if url.pattern.name}  # the named ones
ADMIN_ROWS = {
    key: rows for key, url in URLS.items() if url.namespace == "admin" and (rows := admin_rows(key))
}
ROWS: dict[str, set[str]] = {key: set(rows) for key, (_kind, rows) in PAGES.items()} | {
    key: set(rows) for key, rows in ADMIN_ROWS.items()
}


def dummy_kwargs(pattern: URLPattern) -> dict[str, str]:
    """Made-up arguments for a pattern (tests/config/test_security_headers.py walks the admin with them)."""
    if isinstance(pattern.pattern, RegexPattern):
        return {name: "pathways" if name == "app_label" else "1" for name in pattern.pattern.regex.groupindex}
    return dict.fromkeys(pattern.pattern.converters, "1")


def _django_admin_unnamed(url: Url) -> bool:
    return url.namespace == "admin" and bool(_OBJECT_URL.match(url.key) or url.route == "admin/(?P<url>.*)$")


def test_every_url_pattern_has_a_name():
    unnamed = sorted(
        key
        for key, url in URLS.items()
        if not url.pattern.name and key not in UNNAMED and not _django_admin_unnamed(url)
    )
    assert unnamed == [], f"URL patterns without a name: {unnamed}"
    named_now = sorted(key for key in UNNAMED if key not in URLS)
    assert named_now == [], f"Named now (or gone): move their rows to MATRIX under the name: {named_now}"


def test_every_url_has_rows():
    missing = sorted(key for key in URLS if key not in ROWS)
    assert missing == [], f"URLs without rows in the access matrix: {missing}"
    stale = sorted(key for key in PAGES if key not in URLS)
    assert stale == [], f"Rows for URLs that no longer exist: {stale}"


# --- The world, signed-in clients and the database ----------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The conftest's world, built once for this module rather than once per case: each test runs in a
    savepoint inside it, rolled back afterwards. Besides: a goal in each plan and a task in the foreign one,
    an emergency access to each plan (by a clinician who is none of the roles, so no role sees more), a
    patient without a plan and a delivered in-app message in each plan (`_notification`)."""
    build = inspect.unwrap(conftest.world)  # the fixture's own function
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
            built = build(db=None)
            emergency = Organisation.objects.create(
                name="Akutmodtagelsen", sector=Sector.HOSPITAL, sor_code="1009"
            )
            emergency_doctor = make_user("emergency_doctor", emergency)
        for plan in (built.plan, built.other_plan):
            services.goal_create(actor=None, plan=plan, description="Kunne gå på trapper")
            services.emergency_access_grant(
                actor=emergency_doctor,
                organisation=emergency,
                plan=plan,
                reason="Indlagt akut om natten, skal kende planen.",
            )
        services.task_create(
            actor=None, plan=built.other_plan, title="Besøg", responsible_organisation=built.unrelated
        )
        services.patient_create(
            cpr="0303034321", given_name="Matrix", family_name="Uden-plan", home_municipality="265"
        )
        # The messages the read URLs point at, and every other message of the world delivered: a refused
        # "mark all read" has unread messages it must leave alone.
        for plan in (built.plan, built.other_plan):
            _notification(built, plan)
            _letter(plan)
        for part in PARTS:
            part.build(built)
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


@pytest.fixture(scope="module")
def admin_ids(world, django_db_blocker) -> dict[str, str]:
    """Admin model → the id its object URLs use: a row of the world, or 0, which no row has."""
    with django_db_blocker.unblock():
        rows = {
            "membership": Membership.objects.get(user=world.coordinator),
            "security_event": SecurityEvent.objects.order_by("pk")[0],
            "goal": _goal(world.plan),
            "task": _task(world, world.plan),
            "grant": EmergencyAccess.objects.filter(plan=world.plan).get(),
            "notification": Notification.objects.filter(plan=world.plan).order_by("pk")[0],
        }
        for part in PARTS:
            rows |= {name: row_of(world) for name, row_of in part.ADMIN_ROWS_OF.items()}
    return {
        model: str((rows[spec.row] if spec.row in rows else getattr(world, spec.row)).pk) if spec.row else "0"
        for model, spec in ADMIN_MODELS.items()
    }


@pytest.fixture(scope="module")
def _handler() -> ClientHandler:
    # One request handler for the module: a new one loads the middleware, and WhiteNoise then scans every
    # static file, which took a third of a second per case.
    return ClientHandler(enforce_csrf_checks=False)


@pytest.fixture
def client(_handler, db) -> Client:
    client = Client()
    client.handler = _handler
    return client


@pytest.fixture(scope="module")
def sessions(world, django_db_blocker) -> dict[str, str]:
    """Each role signed in once for the module (with the second step where the account needs it): a test
    sends the session's cookie, and what a request changes in the session is rolled back with the test."""
    with django_db_blocker.unblock():
        return {role: sign_in(Client(), getattr(world, role)).session.session_key for role in STAFF}


@pytest.fixture
def as_role(client, sessions):
    def as_(role: str) -> Client:
        if role != "anonymous":
            client.cookies[settings.SESSION_COOKIE_NAME] = sessions[role]
        return client

    return as_


def send(client: Client, method: str, path: str, body: dict[str, Any] | None = None):
    """A form post where there is a body (a list is a field sent several times), else a bare request.
    The client's cookies are kept as they were,
    so signing out does not carry over to the next request."""
    cookies = deepcopy(client.cookies)
    if body:
        response = client.generic(
            method, path, urlencode(body, doseq=True), content_type="application/x-www-form-urlencoded"
        )
    else:
        response = client.generic(method, path)
    client.cookies = cookies
    return response


_SIGN_IN_PAGES = ("/login/?next=", "/admin/login/?next=")
# The portal's own sign-in, where a portal page sends a request without a portal session (no `next`).
_PORTAL_SIGN_IN = "/portal/log-ind/"


def _to_sign_in(location: str) -> bool:
    return location.startswith(_SIGN_IN_PAGES) or location == _PORTAL_SIGN_IN


def refused(response) -> bool:
    """A status that says so, or sent to sign in first."""
    location = response.get("Location", "")
    return response.status_code in (401, 403, 404, 405) or (
        response.status_code == 302 and _to_sign_in(location)
    )


class Logged(TypedDict, total=False):
    access_log: int  # new access-log rows
    security_events: int  # new security events, all of them refusals


def refusal_logged(name: str, kind: str | None, status: int, role: str = "") -> Logged:
    """What a refusal writes, by design (README "Security events"). A 403 is a security event; on a plan page
    the plan was first opened for the change, which the access log records like any read. A foreign plan's
    URL (a 404 for a plan that exists) is a security event, and nothing of the plan was read. The API's
    writes to a plan open it first (logged) before the rights are asked. A 405, a redirect to sign in, the
    API's other refusals and an emergency access that is not the user's write nothing.
    Patients, plans, goals, tasks, participants and the audit trail are never touched."""
    page = not name.startswith("api")
    plan_url = kind is not None and kind.startswith("plan")
    on_plan = page and plan_url
    if status == 403 and page:
        return {"access_log": int(on_plan), "security_events": 1}
    # The API's writes to a plan open it (logged) and then ask the rights; no one is signed in: nothing.
    if status == 403 and plan_url and role != "anonymous":
        return {"access_log": 1}
    # A plan that exists but is not the caller's, asked for by a page or by the API (pathways.access).
    if status == 404 and plan_url:
        return {"security_events": 1}
    return {}


# Every table but the sessions (a signed-in request stamps its session with the time it was last seen).
_TABLES = sorted(
    {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }
    - {"django_session", AccessLog._meta.db_table, SecurityEvent._meta.db_table}
)
_CHECKSUMS = " UNION ALL ".join(
    f"SELECT '{table}', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "  # noqa: S608
    f"FROM {connection.ops.quote_name(table)} t"
    for table in _TABLES
)


class DatabaseState:
    """Every row of every table, as a count and a checksum per table (one query), and the access log and the
    security events row by row (a refusal may add to them, never change them)."""

    def __init__(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(_CHECKSUMS)
            self.tables = {table: (count, checksum) for table, count, checksum in cursor.fetchall()}
        columns = [field.attname for field in AccessLog._meta.concrete_fields]
        self.access_log = {row["id"]: row for row in AccessLog.objects.values(*columns)}
        self.security_events = {row["id"]: row for row in SecurityEvent.objects.values()}

    def changed_tables(self) -> list[str]:
        now = DatabaseState()
        return [table for table, sums in self.tables.items() if now.tables[table] != sums]

    def assert_only_logged(self, *, access_log: int = 0, security_events: int = 0, case: str = "") -> None:
        """Nothing changed since this state but the given number of new access-log rows and refusals."""
        changed = self.changed_tables()
        assert changed == [], f"{case}: a refused request changed {changed}"
        now = DatabaseState()
        for log, before, after, expected in (
            ("access log", self.access_log, now.access_log, access_log),
            ("security events", self.security_events, now.security_events, security_events),
        ):
            assert {pk: after.get(pk) for pk in before} == before, f"{case}: rows of the {log} changed"
            added = len(after) - len(before)
            assert added == expected, f"{case}: {added} new rows in the {log}, not {expected}"
        kinds = {row["kind"] for pk, row in now.security_events.items() if pk not in self.security_events}
        assert kinds <= {SecurityEventKind.PERMISSION_DENIED}, f"{case}: security events {kinds}"


def _path(key: str, world, ownership: str = "own") -> str:
    if key in UNNAMED:
        return key
    return _url(key, PAGES[key][0], world, ownership)


def _admin_path(key: str, world, admin_ids: dict[str, str]) -> str:
    model_view = _admin_model_view(key)
    if key.startswith("/"):
        if model_view:
            return key.replace("<path:object_id>", admin_ids[model_view[0]])
        return "/admin/no-such-page/"  # the catch-all
    pattern = URLS[key].pattern.pattern
    kwargs: dict[str, Any] = {}
    if isinstance(pattern, RegexPattern):
        kwargs = {"app_label": "pathways"}  # an app's index
    elif key == "admin:auth_user_password_change":
        kwargs = {"id": world.coordinator.pk}
    elif key == "admin:view_on_site":
        kwargs = {"content_type_id": 0, "object_id": 0}
    elif model_view and "object_id" in pattern.converters:
        kwargs = {"object_id": admin_ids[model_view[0]]}
    return reverse(key, kwargs=kwargs)


def _assert_no_patient_data(response, case: str) -> None:
    body = response.content.decode()
    assert "Kirsten" not in body, f"{case}: patient data on an error page"
    assert "Ole" not in body, f"{case}: patient data on an error page"


# --- The matrix ---------------------------------------------------------------------------------------------


def _cases(methods: tuple[str, ...]) -> list[tuple[str, str, str, str]]:
    return [
        (key, method, role, ownership)
        for key, (kind, rows) in PAGES.items()
        for method in methods
        if method in rows
        for role in ROLES
        for ownership in (["own", "other"] if kind else ["-"])
    ]


def _expected(rule: dict[str, Any], kind: str | None, role: str, ownership: str) -> int:
    return rule[ownership][role] if kind else rule[role]


@pytest.mark.parametrize(("name", "role", "ownership"), [case[:1] + case[2:] for case in _cases(("GET",))])
def test_matrix(as_role, world, name, role, ownership):
    kind, rows = PAGES[name]
    response = send(as_role(role), "GET", _path(name, world, ownership))
    assert response.status_code == _expected(rows["GET"], kind, role, ownership), (
        f"{name} as {role} ({ownership})"
    )
    if response.status_code in (403, 404, 405, 503):
        _assert_no_patient_data(response, name)


@pytest.mark.parametrize(("name", "method", "role", "ownership"), _cases(WRITES))
def test_matrix_writes(as_role, world, name, method, role, ownership):
    kind, rows = PAGES[name]
    case = f"{method} {name} as {role} ({ownership})"
    client = as_role(role)
    make_body = BODIES.get(name) if method == "POST" else None
    plan = world.other_plan if ownership == "other" else world.plan
    body = make_body(Asker(world, plan, role)) if make_body else None
    before = DatabaseState()
    response = send(client, method, _path(name, world, ownership), body)
    assert response.status_code == _expected(rows[method], kind, role, ownership), case
    if refused(response):
        before.assert_only_logged(**refusal_logged(name, kind, response.status_code, role), case=case)
        _assert_no_patient_data(response, case)
    elif name in CHANGES:
        assert before.changed_tables(), f"{case}: let in, but nothing changed: is the body still valid?"
    if role == "anonymous" and response.status_code == 302 and name not in PUBLIC:
        assert _to_sign_in(response["Location"]), case


@pytest.mark.parametrize(("key", "role"), [(key, role) for key in ADMIN_ROWS for role in ROLES])
def test_admin_matrix(as_role, world, admin_ids, key, role):
    client = as_role(role)
    path = _admin_path(key, world, admin_ids)
    model_view = _admin_model_view(key)
    before = DatabaseState()
    wrong = []
    for method, rule in ADMIN_ROWS[key].items():
        add_body = ADMIN_ADD_BODIES.get(model_view[0]) if model_view and model_view[1] == "add" else None
        body = add_body(world) if add_body and method == "POST" else None
        # The administrator's requests are undone one by one, so every method meets the same database.
        with transaction.atomic():
            response = send(client, method, path, body)
            transaction.set_rollback(role == "admin")
        if response.status_code != rule[role]:
            wrong.append(f"{method}: {response.status_code}, not {rule[role]}")
        elif key == "admin:login":
            # One sign-in for everyone (throttled, with the second step): the admin's own form is not used.
            assert response["Location"] == reverse("login"), method
        elif role != "admin" and key == "admin:logout":
            assert response["Location"] == reverse("admin:index"), method  # which asks them to sign in
        elif role != "admin":
            assert response["Location"].startswith("/admin/login/?next="), method
    assert wrong == [], f"{key} as {role}: {wrong}"
    if role != "admin":
        # Refused before anything was looked up: not even the refusal is logged.
        before.assert_only_logged(case=f"{key} as {role}")


@pytest.mark.parametrize("key", [key for key in sorted(URLS) if set(METHODS) - ROWS.get(key, set(METHODS))])
def test_rows_cover_every_accepted_method(as_role, world, admin_ids, key):
    """A method without rows must be refused before anything happens: asked by the coordinator (by the
    administrator on admin URLs), the view answers 405 and writes nothing."""
    without_rows = [method for method in METHODS if method not in ROWS[key]]
    if key in ADMIN_ROWS:
        client, path = as_role("admin"), _admin_path(key, world, admin_ids)
    else:
        client, path = as_role("coordinator"), _path(key, world)
    before = DatabaseState()
    for method in without_rows:
        response = send(client, method, path)
        assert response.status_code == 405, (
            f"{key} answers {method} with {response.status_code}: add its rows"
        )
    before.assert_only_logged(case=key)


def test_database_state_sees_every_change(world, db):
    """The check the refusals rely on fails for a changed, deleted or new row, a security event of another
    kind and an access-log row beyond those expected."""
    for write, logged in (
        (lambda: world.plan.tasks.update(title="Ændret i smug"), Logged()),
        (lambda: Membership.objects.filter(user=world.outsider).delete(), Logged()),
        (lambda: services.goal_create(actor=None, plan=world.plan, description="Nyt mål"), Logged()),
        (
            lambda: AccessLog.objects.create(
                actor=world.outsider,
                patient=world.patient,
                action=AccessAction.VIEW_PLAN,
                purpose=AccessPurpose.TREATMENT,
            ),
            Logged(),
        ),
        (
            lambda: SecurityEvent.objects.create(kind=SecurityEventKind.LOGIN_FAILED),
            Logged(security_events=1),
        ),
    ):
        with transaction.atomic():
            before = DatabaseState()
            write()
            with pytest.raises(AssertionError):
                before.assert_only_logged(**logged)
            transaction.set_rollback(True)
