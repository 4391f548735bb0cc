"""Every named URL × every role × own/foreign patient → the expected status.

A new URL without a row here fails `test_every_named_url_has_a_row`. Admin URLs follow one rule: only
administrators get in; everyone else is sent to the admin login before any object is looked up.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RegexPattern

from pathways import services
from pathways.models import Task
from tests.conftest import sign_in

ROLES = ["anonymous", "admin", "coordinator", "hospital_doctor", "home_nurse", "gp_doctor", "outsider"]
STAFF = ROLES[1:]


def everyone(status, anonymous=None):
    return dict.fromkeys(STAFF, status) | {"anonymous": status if anonymous is None else anonymous}


# The users who see the fixture's own plan (Kirsten): its three sectors and its coordinator.
IN_PLAN = {"coordinator", "hospital_doctor", "home_nurse", "gp_doctor"}


def plan_rule(ok: int, anonymous: int) -> dict[str, dict[str, int]]:
    """Own plan: the plan's sectors see it. Foreign plan: only the outsider's organisation does."""
    return {
        "own": {role: ok if role in IN_PLAN else 404 for role in STAFF} | {"anonymous": anonymous},
        "other": {role: ok if role == "outsider" else 404 for role in STAFF} | {"anonymous": anonymous},
    }


# Pages only the plan's coordinator may open; the plan's other sectors are refused, outsiders see nothing.
COORDINATOR_ONLY = {
    "own": {
        "coordinator": 200,
        "hospital_doctor": 403,
        "home_nurse": 403,
        "gp_doctor": 403,
        "admin": 404,
        "outsider": 404,
        "anonymous": 302,
    },
    # The foreign plan has no coordinator: the outsider's organisation takes part, but may not open it.
    "other": {role: 403 if role == "outsider" else 404 for role in STAFF} | {"anonymous": 302},
}

# name → (object kind or None, expectations). Expectations: {role: status} or {"own"/"other": {role: status}}.
MATRIX: dict[str, tuple[str | None, dict[str, Any]]] = {
    "login": (None, everyone(200)),
    "logout": (None, everyone(405)),  # GET is refused: logging out is a POST
    "set_language": (None, everyone(302)),
    "healthz": (None, everyone(503)),  # public; 503 because no Celery worker runs in this test
    "pathways:caseload": (None, everyone(200, anonymous=302)),
    "pathways:caseload-cpr-search": (None, everyone(405, anonymous=302)),  # POST only: no CPR in URLs
    "pathways:plan-detail": ("plan", plan_rule(200, anonymous=302)),
    "pathways:plan-history": ("plan", plan_rule(200, anonymous=302)),
    "pathways:cpr-reveal-partial": ("plan", {o: everyone(405, anonymous=302) for o in ("own", "other")}),
    "pathways:what-matters-partial": ("plan", COORDINATOR_ONLY),
    "pathways:plan-access-log": ("plan", COORDINATOR_ONLY),
    "pathways:goal-create-partial": ("plan", COORDINATOR_ONLY),
    "pathways:goal-edit-partial": ("plan-goal", COORDINATOR_ONLY),
    # The own plan's task is the municipality's home visit: its nurse and the coordinator may edit it.
    # The foreign plan's task is the outsider's organisation's.
    "pathways:task-edit-partial": (
        "plan-task",
        {
            "own": {
                "coordinator": 200,
                "home_nurse": 200,
                "hospital_doctor": 403,
                "gp_doctor": 403,
                "admin": 404,
                "outsider": 404,
                "anonymous": 302,
            },
            "other": {role: 200 if role == "outsider" else 404 for role in STAFF} | {"anonymous": 302},
        },
    ),
    # Break the glass: every clinician may ask (and must give a reason); an administrator is no clinician.
    "pathways:emergency-access": (None, everyone(200, anonymous=302) | {"admin": 403}),
    "pathways:emergency-access-acknowledge-partial": ("uuid", {"-": everyone(405, anonymous=302)}),
    # Sign-in steps and the account's own security page: no patient data, every signed-in user.
    "pathways:mfa-verify": (None, everyone(302)),  # verified or nothing to verify: sent on
    "pathways:mfa-setup": (None, everyone(200, anonymous=302)),
    "pathways:account-security": (None, everyone(200, anonymous=302)),
    "pathways:recovery-codes-regenerate": (None, everyone(405, anonymous=302)),
    "pathways:mfa-remove": (None, everyone(405, anonymous=302)),
    "pathways:logout-everywhere": (None, everyone(405, anonymous=302)),
    "pathways:task-create": ("plan", plan_rule(200, anonymous=302)),
    # Changes are POST only; a GET is refused before anything is looked up.
    "pathways:task-status-partial": (
        "plan-task",
        {o: everyone(405, anonymous=302) for o in ("own", "other")},
    ),
    "pathways:participant-accept-partial": (
        "plan-participant",
        {o: everyone(405, anonymous=302) for o in ("own", "other")},
    ),
    "api:plan-list": (None, everyone(200, anonymous=403)),
    "api:plan-detail": ("plan", plan_rule(200, anonymous=403)),
    "api:plan-task-list": ("plan", plan_rule(200, anonymous=403)),
    "api:task-detail": ("task", plan_rule(200, anonymous=403)),
    "api:auth-token": (None, everyone(405)),  # POST only, open to all (it is the sign-in for integrations)
    "api-schema": (None, everyone(200, anonymous=403)),
    "api-docs": (None, everyone(200, anonymous=403)),
}

# Admin pages an administrator may open without an object; other admin URLs need one.
ADMIN_EXCEPTIONS = {
    "admin:logout": 405,
    "admin:pathways_accesslog_add": 403,  # the access log is read-only
    "admin:autocomplete": 403,  # without the field it completes for, the request is refused
    "admin:pathways_accesslog_delete": 403,
    # Logs are read-only, also the sign-in throttling's own (django-axes).
    "admin:pathways_securityevent_add": 403,
    "admin:pathways_securityevent_delete": 403,
    "admin:pathways_emergencyaccess_add": 403,
    "admin:pathways_emergencyaccess_delete": 403,
    "admin:axes_accessattempt_add": 403,
    "admin:axes_accesslog_add": 403,
    "admin:axes_accessfailurelog_add": 403,
    # The audit trail is read-only too; patients and plans are never deleted in the admin.
    "admin:pathways_auditevent_add": 403,
    "admin:pathways_auditevent_delete": 403,
    "admin:pathways_patient_delete": 403,
    "admin:pathways_pathwayplan_delete": 403,
}


def walk(resolver=None, namespace=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield namespace + pattern.name, pattern


def dummy_kwargs(pattern: URLPattern) -> dict[str, str]:
    if isinstance(pattern.pattern, RegexPattern):
        regex = pattern.pattern.regex
        kwargs = {}
        for name in regex.groupindex:
            kwargs[name] = "pathways" if name == "app_label" else "1"
        return kwargs
    return dict.fromkeys(pattern.pattern.converters, "1")


ALL_URLS = dict(walk())


def test_every_named_url_has_a_row():
    missing = sorted(n for n in ALL_URLS if not n.startswith("admin:") and n not in MATRIX)
    assert missing == [], f"URLs without a row in the access matrix: {missing}"
    stale = sorted(n for n in MATRIX if n not in ALL_URLS)
    assert stale == [], f"Rows for URLs that no longer exist: {stale}"


@pytest.fixture
def as_role(client, world):
    def as_(role: str):
        client.logout()
        if role != "anonymous":
            sign_in(client, getattr(world, role))
        return client

    return as_


def _url(name: str, kind: str | None, world, ownership: str) -> str:
    if kind is None:
        return reverse(name)
    if kind == "uuid":
        return reverse(name, args=[uuid4()])
    plan = world.plan if ownership == "own" else world.other_plan
    if kind == "plan":
        return reverse(name, args=[plan.public_id])
    if kind == "plan-goal":
        goal = plan.goals.first() or services.goal_create(actor=None, plan=plan, description="Matrix goal")
        return reverse(name, args=[plan.public_id, goal.public_id])
    if kind == "plan-participant":
        return reverse(name, args=[plan.public_id, plan.participants.first().public_id])
    task = Task.objects.filter(plan=plan).first()
    if task is None:
        task = services.task_create(
            actor=None, plan=plan, title="Matrix task", responsible_organisation=world.unrelated
        )
    if kind == "plan-task":
        return reverse(name, args=[plan.public_id, task.public_id])
    return reverse(name, args=[task.public_id])


CASES = [
    (name, role, ownership)
    for name, (kind, _rule) in MATRIX.items()
    for role in ROLES
    for ownership in (["own", "other"] if kind and kind != "uuid" else ["-"])
]


@pytest.mark.parametrize(("name", "role", "ownership"), CASES)
def test_matrix(as_role, world, name, role, ownership):
    kind, rule = MATRIX[name]
    expected = rule[ownership][role] if kind else rule[role]
    client = as_role(role)
    response = client.get(_url(name, kind, world, ownership))
    assert response.status_code == expected, f"{name} as {role} ({ownership})"
    if response.status_code in (403, 404, 405, 503):
        body = response.content.decode()
        assert "Kirsten" not in body, "patient data on an error page"
        assert "Ole" not in body, "patient data on an error page"


ADMIN_CASES = [(name, role) for name in ALL_URLS if name.startswith("admin:") for role in ROLES]


@pytest.mark.parametrize(("name", "role"), ADMIN_CASES)
def test_admin_matrix(as_role, world, name, role):
    pattern = ALL_URLS[name]
    kwargs = dummy_kwargs(pattern)
    client = as_role(role)
    url = reverse(name, kwargs=kwargs)
    response = client.get(url)
    if name == "admin:login":
        # One sign-in for everyone (throttled, with the second step): the admin's own form is not used.
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
        return
    if role != "admin":
        if name == "admin:logout":
            assert response.status_code in (302, 405)
        else:
            assert response.status_code == 302, f"{name} as {role}"
            assert re.match(r"^/admin/login/", response["Location"])
        return
    if name in ADMIN_EXCEPTIONS:
        assert response.status_code == ADMIN_EXCEPTIONS[name], name
        return
    if kwargs:
        # Object URLs with a made-up id: the administrator is let in and told the object does not exist.
        assert response.status_code in (200, 302, 404), name
        return
    assert response.status_code == 200, name
