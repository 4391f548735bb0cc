"""Where the apps above the hub add to the hub's pages without the hub importing them.

The hub owns the caseload and the plan page; coordination (and later relatives and quality) add columns,
sections and task markers to them. Each app registers in its AppConfig.ready(); the hub's selectors and
views call whatever is registered, in registration order (INSTALLED_APPS order, which is the layer
order). Every hook reads in a fixed number of queries, whatever the number of plans or tasks: the
caseload's hook adds annotations to the one query, the plan page's hooks read once per page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CaseloadExtension:
    """Columns on the caseload. `annotate(plans, actor)` returns the plans with what the cells show
    (subquery annotations on the same query); `header_template` renders its <th> cells and
    `cells_template` its <td> cells with `plan` in the context; `sorts` adds sort keys (name → (label,
    order_by)); `filters` adds yes/no filters (GET parameter → (label, (plans, actor) → plans))."""

    key: str
    annotate: Callable[[Any, Any], Any]
    header_template: str
    cells_template: str
    sorts: dict[str, tuple[Any, tuple[Any, ...]]] = field(default_factory=dict)
    filters: dict[str, tuple[Any, Callable[[Any, Any], Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanSection:
    """A section of the plan page: `template` rendered with `context(actor, page)` (page: the hub's
    selectors.PlanPage) merged into the page's context, after the tasks. `context` returns None to leave
    the section out for this reader."""

    key: str
    template: str
    context: Callable[[Any, Any], dict[str, Any] | None]


@dataclass(frozen=True)
class TaskMarker:
    """A short label on a task row of the plan page ("Disputed · 21 days"), with a CSS modifier."""

    label: str
    tone: str = "warning"
    href: str = ""


# (actor, plan, tasks) → {task id: [markers]}: one read for all tasks of the plan.
TaskMarkers = Callable[[Any, Any, list[Any]], dict[int, list[TaskMarker]]]

CASELOAD_EXTENSIONS: list[CaseloadExtension] = []
PLAN_SECTIONS: list[PlanSection] = []
TASK_MARKERS: list[TaskMarkers] = []
# Further models whose audit-trail events belong in a plan's history (they point at the plan).
PLAN_HISTORY_MODELS: list[Any] = []
# Who besides the patient hears of a plan's appointments (relatives, within the patient's consent):
# (plan) → [(recipient, channel)], one read for the plan. The recipient is a model instance with
# `notification_address(channel)` and `notification_text(row)` (pathways.outbox).
AppointmentRecipients = Callable[[Any], list[tuple[Any, str]]]
APPOINTMENT_RECIPIENTS: list[AppointmentRecipients] = []
# The models of recipients who are not staff (relatives): their waiting messages about a plan are
# cancelled with the patient's at a death.
NON_STAFF_RECIPIENT_MODELS: list[Any] = []
# Words a patient's message takes from the app that raised it (relatives: the name of the relative whose
# consent was withdrawn): (outbox row) → {name: words}, {} for a row that is not the app's.
NoticeWords = Callable[[Any], dict[str, str]]
NOTICE_WORDS: list[NoticeWords] = []
# Printable plans (pathways.documents): the app that owns a document's content says how it is made.
# (plan, content) → the whole HTML, in the language that is active; `documents.STAMP` where the version
# and printed date go. Keyed by DocumentKind (the portal: the patient's plan and its large print;
# coordination: the complete plan for staff).
DocumentBuilder = Callable[[Any, str], str]
DOCUMENT_BUILDERS: dict[str, DocumentBuilder] = {}
# Where sign-in lands for a user the lower apps have no page for (quality: its dashboard, for a user whose
# only role is the quality permission): (user) → a URL name, or "" to pass. Coordination's start page asks
# after its own rule (coordinators: the worklist) and before the caseload; the first name given wins.
StartPage = Callable[[Any], str]
START_PAGES: list[StartPage] = []
# The plan as FHIR (pathways.fhir): each app adds the resources it owns to the Bundle being made, within
# what the reader may see — (export: pathways.fhir.PlanExport) → None, a fixed number of queries.
FhirContributor = Callable[[Any], None]
FHIR_CONTRIBUTORS: list[FhirContributor] = []


def _register(registry: list[Any], item: Any) -> None:
    # ready() may run twice (tests that reload apps): register once.
    if item not in registry:
        registry.append(item)


def register_caseload_extension(extension: CaseloadExtension) -> None:
    if all(existing.key != extension.key for existing in CASELOAD_EXTENSIONS):
        CASELOAD_EXTENSIONS.append(extension)


def register_plan_section(section: PlanSection) -> None:
    if all(existing.key != section.key for existing in PLAN_SECTIONS):
        PLAN_SECTIONS.append(section)


def register_task_markers(markers: TaskMarkers) -> None:
    _register(TASK_MARKERS, markers)


def register_plan_history_model(model: Any) -> None:
    _register(PLAN_HISTORY_MODELS, model)


def register_appointment_recipients(recipients: AppointmentRecipients, model: Any) -> None:
    _register(APPOINTMENT_RECIPIENTS, recipients)
    _register(NON_STAFF_RECIPIENT_MODELS, model)


def register_notice_words(words: NoticeWords) -> None:
    _register(NOTICE_WORDS, words)


def register_fhir_contributor(contributor: FhirContributor) -> None:
    _register(FHIR_CONTRIBUTORS, contributor)


def register_document_builder(kind: str, builder: DocumentBuilder) -> None:
    DOCUMENT_BUILDERS[kind] = builder


def register_start_page(page: StartPage) -> None:
    _register(START_PAGES, page)


def start_page(user: Any) -> str:
    """The URL name of the registered start page that takes this user (see START_PAGES), or ""."""
    for page in START_PAGES:
        if name := page(user):
            return name
    return ""


def notice_words(row: Any) -> dict[str, str]:
    """The words the apps give for a message (see NOTICE_WORDS)."""
    found: dict[str, str] = {}
    for words in NOTICE_WORDS:
        found |= words(row)
    return found
