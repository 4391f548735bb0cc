"""The access matrix's rows for printable plans (issue 15) (merged by tests/test_access_matrix.py, see its
PARTS).

Those who take part in a plan ask for its PDFs, follow them and open them: in the world's own plan its three
sectors and its coordinator, in the foreign plan the outsider. Everyone else gets 404, the same as for a
document that does not exist; an administrator reads documents in the admin only (read-only there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Max
from django.utils import timezone

from pathways.choices import DocumentKind, DocumentState
from pathways.models import PlanDocument

STAFF = ["admin", "coordinator", "hospital_doctor", "home_nurse", "gp_doctor", "outsider"]
IN_PLAN = {"coordinator", "hospital_doctor", "home_nurse", "gp_doctor"}


def _everyone(status: int, anonymous: int = 302) -> dict[str, int]:
    return dict.fromkeys(STAFF, status) | {"anonymous": anonymous}


def _in_the_plan(ok: int) -> dict[str, dict[str, int]]:
    """Own plan: its sectors and coordinator; foreign plan: the outsider's organisation; the rest 404."""
    return {
        "own": {role: ok if role in IN_PLAN else 404 for role in STAFF} | {"anonymous": 302},
        "other": {role: ok if role == "outsider" else 404 for role in STAFF} | {"anonymous": 302},
    }


def _refused_for_all() -> dict[str, dict[str, int]]:
    return {"own": _everyone(405), "other": _everyone(405)}


ROWS: dict[str, tuple[str | None, dict[str, Any]]] = {
    "pathways:plan-documents": ("plan", {"GET": _in_the_plan(200)}),
    # Asking is a POST (then to the document's page).
    "pathways:plan-document-request": ("plan", {"GET": _refused_for_all(), "POST": _in_the_plan(302)}),
    "pathways:document-detail": ("document", {"GET": _in_the_plan(200)}),
    "pathways:document-status-partial": ("document", {"GET": _in_the_plan(200)}),
    "pathways:document-download": ("document", {"GET": _in_the_plan(200)}),
    # A failed document, asked for again (then to its page).
    "pathways:document-retry": ("document-failed", {"GET": _refused_for_all(), "POST": _in_the_plan(302)}),
}

BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    # The plan as it is now was never printed in large print: a let-in POST writes a new document.
    "pathways:plan-document-request": lambda _asker: {"kind": DocumentKind.LARGE_PRINT},
}
CHANGES: set[str] = {"pathways:plan-document-request", "pathways:document-retry"}

_MADE_UP_PDF = b"%PDF-1.7\n% the access matrix's document\n%%EOF\n"


def _document(plan: Any, state: DocumentState) -> PlanDocument:
    """The plan's complete plan for staff made for the matrix, finished or failed (made where the world
    has none, e.g. tests/config/test_security_headers.py's): written as the worker leaves one, without
    rendering."""
    fingerprint = f"access-matrix-{state}"
    found = PlanDocument.objects.filter(plan=plan, fingerprint=fingerprint).first()
    if found is not None:
        return found
    highest = PlanDocument.objects.filter(plan=plan, kind=DocumentKind.STAFF).aggregate(n=Max("number"))["n"]
    done = state == DocumentState.DONE
    return PlanDocument.objects.create(
        plan=plan,
        kind=DocumentKind.STAFF,
        number=(highest or 0) + 1,
        fingerprint=fingerprint,
        html="<!doctype html><title>Matrix</title><p>Matrix</p>",
        state=state,
        attempts=1,
        error="" if done else "MemoryError",
        pdf=_MADE_UP_PDF if done else None,
        pages=1 if done else None,
        size=len(_MADE_UP_PDF) if done else None,
        progress=100 if done else 30,
        finished_at=timezone.now() if done else None,
    )


URL_KINDS: dict[str, Callable[[Any, Any], list[Any]]] = {
    "document": lambda _world, plan: [_document(plan, DocumentState.DONE).public_id],
    "document-failed": lambda _world, plan: [_document(plan, DocumentState.FAILED).public_id],
}
# admin model ("app_model") → (the ADMIN_ROWS_OF name its object URLs use or None, what an
# administrator may do besides reading: a frozenset of "add", "change", "delete")
ADMIN_MODELS: dict[str, tuple[str | None, frozenset[str]]] = {
    # Read-only: documents are made by the worker and never changed or deleted by hand (a PDF can be
    # opened from the list, a logged read).
    "pathways_plandocument": ("document", frozenset()),
}
ADMIN_ADD_BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {}
ADMIN_ROWS_OF: dict[str, Callable[[Any], Any]] = {
    "document": lambda world: _document(world.plan, DocumentState.DONE),
}


def build(world: Any) -> None:
    """A finished and a failed document in each plan."""
    for plan in (world.plan, world.other_plan):
        _document(plan, DocumentState.DONE)
        _document(plan, DocumentState.FAILED)
