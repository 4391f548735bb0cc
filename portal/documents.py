"""The printed plan for the patient and its large print (issue 15): what the patient keeps on the fridge
door, made from the same whitelisted read models as the portal's plan page (portal.selectors,
portal.readmodels), so a staff-only field can no more reach the paper than the page.

pathways.documents asks for a document's HTML through the builders registered here (PortalConfig.ready):
`(plan, content) -> html`, called in the patient's language. The content decides what is printed:
- WHOLE_PLAN, the patient's plan (and a relative's with the whole plan): what matters to the patient, the
  agreed goals, what happens next (day, what, who and their phone), whom to call — the coordinator, the
  substitute, the places taking part in the plan — and 112 in an emergency;
- APPOINTMENTS, for a relative who may see the appointments only: the coming appointments and whom to call.
The version and the printed date go where `documents.STAMP` is (the `.ff-stamp` paragraph, also the
running footer). Large print is the same HTML with `large_print` (templates/documents/base.html: 16 pt
body text or more, one column).

The builders read the plan for whoever asked; they check nothing. The portal asks only after
portal.access has let the reader in (portal.views.documents), staff after the hub's access policy, and the
outbox for a letter to the patient.
"""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils.translation import get_language

from pathways import documents, extensions
from pathways.choices import DocumentContent, DocumentKind
from pathways.models import PathwayPlan
from portal.access import PortalReader
from portal.choices import ReaderRole
from portal.selectors import portal_plan_page
from relatives.choices import ConsentScope

TEMPLATE = "portal/documents/plan.html"
ENGINE = "portal"  # settings.TEMPLATES: the portal's own engine (no request, no user in the context)


def _reader(plan: PathwayPlan, content: str) -> PortalReader:
    """The portal reader whose page the document prints: the patient for the whole plan, a relative with
    appointments only for the appointments."""
    if content == DocumentContent.WHOLE_PLAN:
        return PortalReader(plan=plan, role=ReaderRole.PATIENT, scope=ConsentScope.WHOLE_PLAN)
    if content == DocumentContent.APPOINTMENTS:
        return PortalReader(plan=plan, role=ReaderRole.RELATIVE, scope=ConsentScope.APPOINTMENTS)
    raise ValueError(f"no printed plan for the patient holds {content!r}")


def plan_document_html(plan: PathwayPlan, content: str, *, large_print: bool) -> str:
    """The whole HTML of the printed plan, in the language that is active."""
    page = portal_plan_page(reader=_reader(plan, content))
    return render_to_string(
        TEMPLATE,
        {
            "page": page,
            "large_print": large_print,
            "language": get_language() or "da",
            "stamp": documents.STAMP,
        },
        using=ENGINE,
    )


def patient_document(plan: PathwayPlan, content: str) -> str:
    """DocumentKind.PATIENT: the printed plan."""
    return plan_document_html(plan, content, large_print=False)


def large_print_document(plan: PathwayPlan, content: str) -> str:
    """DocumentKind.LARGE_PRINT: the same, in large letters."""
    return plan_document_html(plan, content, large_print=True)


def register() -> None:
    """Called by PortalConfig.ready()."""
    extensions.register_document_builder(DocumentKind.PATIENT, patient_document)
    extensions.register_document_builder(DocumentKind.LARGE_PRINT, large_print_document)
