"""The access matrix's rows for the quality dashboard (issue 16) (merged by tests/test_access_matrix.py, see
its PARTS).

The dashboard is for the quality role (the permission `quality.view_dashboard`); of the matrix's roles only
the administrator has it (a superuser has every permission). Every clinician and coordinator is refused
with 403 — a page that exists for everyone and names no patient, so there is nothing to hide behind a 404 —
and the refusal is a security event. The quality user herself (no organisation, so no plan) is not one of
the matrix's roles: tests/quality/test_dashboard.py signs her in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

STAFF = ["admin", "coordinator", "hospital_doctor", "home_nurse", "gp_doctor", "outsider"]


def _quality_only(ok: int) -> dict[str, int]:
    return {role: ok if role == "admin" else 403 for role in STAFF} | {"anonymous": 302}


def _everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(STAFF, status) | {"anonymous": 302}


def _both(rule: dict[str, int]) -> dict[str, dict[str, int]]:
    return {"own": rule, "other": rule}


ROWS: dict[str, tuple[str | None, dict[str, Any]]] = {
    "quality:dashboard": (None, {"GET": _quality_only(200)}),
    "quality:dashboard-indicator": ("quality-indicator", {"GET": _both(_quality_only(200))}),
    "quality:dashboard-csv": (None, {"GET": _quality_only(200)}),
    # Names for the organisation field as one types (htmx).
    "quality:dashboard-organisations": (None, {"GET": _quality_only(200)}),
    "quality:dashboard-refresh-partial": (None, {"GET": _quality_only(200)}),
    # Asking for new numbers is a POST (then back to the dashboard).
    "quality:dashboard-refresh": (None, {"GET": _everyone(405), "POST": _quality_only(302)}),
}

BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {}
# A let-in POST queues a refresh run.
CHANGES: set[str] = {"quality:dashboard-refresh"}

URL_KINDS: dict[str, Callable[[Any, Any], list[Any]]] = {
    # A shipped indicator (quality/migrations/0002): the same for the own and the foreign plan.
    "quality-indicator": lambda _world, _plan: ["home-nursing-24h"],
}
ADMIN_MODELS: dict[str, tuple[str | None, frozenset[str]]] = {}
ADMIN_ADD_BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {}
ADMIN_ROWS_OF: dict[str, Callable[[Any], Any]] = {}


def build(world: Any) -> None:
    """Nothing: the shipped indicators are there, and an empty summary is a dashboard too."""
