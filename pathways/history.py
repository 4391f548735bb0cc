"""The audit trail as people read it: events turned into who, when, what and each field before → after.

Presentation only: it reads the models and the event tables (pghistory), writes nothing and knows no
user's rights. The plan's history page (selectors.plan_history) and the admin's audit trail both use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.apps import apps
from django.db.models import BooleanField, DateField, DateTimeField, Field, Model
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from pathways import extensions
from pathways.models import (
    AuditEvent,
    Goal,
    Membership,
    Organisation,
    PathwayPlan,
    Patient,
    PlanCondition,
    PlanParticipant,
    Task,
    Transition,
    User,
)

# Events come from the database triggers (pathways.models, pghistory):
# a snapshot of the row per insert, update and delete; AuditEvent gives each event's difference to the
# snapshot before it.

HISTORY_KIND_LABELS: dict[str, Promise] = {
    "insert": _("Created"),
    "update": _("Changed"),
    "delete": _("Deleted"),
}
# Bookkeeping a reader does not need: keys, counters, timestamps the event itself carries, the back
# reference to the plan the history belongs to, and who created the row (the event's actor says so).
HISTORY_HIDDEN_FIELDS = frozenset(
    {"id", "public_id", "version", "created_at", "updated_at", "created_by", "added_by", "added_at",
     "completed_at", "sort_order", "plan"}
)  # fmt: skip
# Goals and tasks are named after their own snapshots (so a deleted one keeps its name); other objects
# that events point to are read from their tables.
_NAMED_BY_SNAPSHOT: tuple[type[Model], ...] = (Goal, Task)
PLAN_HISTORY_MODELS: tuple[type[Model], ...] = (
    PathwayPlan,
    PlanCondition,
    PlanParticipant,
    Goal,
    Task,
    Transition,  # hospital events (pathways.stays); what each changed shows as its tasks' and plan's changes
)


def plan_history_models() -> list[type[Model]]:
    """The hub's models in a plan's history and those the apps above add (pathways.extensions)."""
    return [*PLAN_HISTORY_MODELS, *extensions.PLAN_HISTORY_MODELS]


@dataclass(frozen=True)
class FieldChange:
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded change: who (None: no signed-in user, e.g. a command or a background job), when,
    what (the kind of record and its name) and each changed field as before → after, in readable values.
    `earlier_values_unknown`: the row was changed but its previous state predates the audit trail."""

    key: str
    at: datetime
    kind: str
    kind_label: str
    actor: User | None
    actor_name: str  # "" without a user; "#<id>" for a user who no longer exists
    url: str
    record_type: str
    record: str
    changes: list[FieldChange]
    earlier_values_unknown: bool = False


class _Lookup:
    """The objects event rows point to, fetched with one query per model once all are known."""

    def __init__(self) -> None:
        self.wanted: dict[type[Model], set[Any]] = {}
        self.objects: dict[tuple[type[Model], Any], Model] = {}
        self.names: dict[tuple[type[Model], Any], str] = {}

    def want(self, model: type[Model], pk: Any) -> None:
        if pk is not None and pk != "":
            self.wanted.setdefault(model, set()).add(pk)

    def name_from_snapshot(self, model: type[Model], pk: Any, name: str) -> None:
        self.names.setdefault((model, pk), name)

    def fetch(self) -> None:
        for model, pks in self.wanted.items():
            missing = [pk for pk in pks if (model, pk) not in self.names]
            for obj in model._default_manager.filter(pk__in=missing) if missing else []:
                self.objects[(model, obj.pk)] = obj
                self.names[(model, obj.pk)] = str(obj)

    def name(self, model: type[Model], pk: Any) -> str:
        return self.names.get((model, pk), f"#{pk}")

    def user(self, pk: Any) -> User | None:
        return cast(User | None, self.objects.get((User, pk)))


def _fields_by_column(model: type[Model]) -> dict[str, Field[Any, Any]]:
    return {f.column: f for f in model._meta.concrete_fields}


def _shown(model: type[Model], data: dict[str, Any]) -> list[tuple[Field[Any, Any], Any]]:
    """The fields of a snapshot or difference (keyed by column) a reader sees, in the model's order. A
    model keeps more out with `history_hidden_fields` (a message's text is read on its own logged page)."""
    hidden = HISTORY_HIDDEN_FIELDS | frozenset(getattr(model, "history_hidden_fields", ()))
    return [
        (field, data[field.column])
        for field in model._meta.concrete_fields
        if field.column in data and field.name not in hidden
    ]


def _related_model(field: Field[Any, Any]) -> type[Model] | None:
    related = field.related_model
    return related if isinstance(related, type) and issubclass(related, Model) else None


def _readable(model: type[Model], field: Field[Any, Any], value: Any, lookup: _Lookup) -> str:
    if value is None or value == "":
        return ""
    if model is Patient and field.name == "cpr":
        return f"{str(value)[:6]}-xxxx"  # the full CPR number is shown only by its own, logged, reveal
    related = _related_model(field)
    if related is not None:
        return lookup.name(related, value)
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, BooleanField):
        return gettext("Yes") if value else gettext("No")
    if isinstance(field, DateTimeField):
        moment = parse_datetime(str(value))
        return date_format(timezone.localtime(moment), "j. F Y H:i") if moment else str(value)
    if isinstance(field, DateField):
        day = parse_date(str(value))
        return date_format(day, "j. F Y") if day else str(value)
    return str(value)


def _record_name(model: type[Model], data: dict[str, Any], lookup: _Lookup) -> str:
    if model is PlanParticipant:
        return lookup.name(Organisation, data.get("organisation_id"))
    if model is Membership:
        user = lookup.name(User, data.get("user_id"))
        return f"{user} · {lookup.name(Organisation, data.get('organisation_id'))}"
    if model is Patient:
        return f"{data.get('given_name', '')} {data.get('family_name', '')}"
    if model is Transition:
        # "Discharged home · 3. marts 2026 10:15", the time in local time (the snapshot holds it in UTC).
        kind = Transition._meta.get_field("kind")
        occurred = Transition._meta.get_field("occurred_at")
        when = _readable(model, occurred, data.get("occurred_at"), lookup)
        return f"{_readable(model, kind, data.get('kind'), lookup)} · {when}"
    # The others name themselves from their own columns (title, description, display).
    fields = _fields_by_column(model)
    own = {fields[c].attname: v for c, v in data.items() if c in fields and not fields[c].is_relation}
    return str(model(**own))


def _changes(model: type[Model], event: AuditEvent, lookup: _Lookup) -> list[FieldChange]:
    def change(field: Field[Any, Any], before: Any, after: Any) -> FieldChange:
        return FieldChange(
            label=capfirst(str(field.verbose_name)),
            before=_readable(model, field, before, lookup),
            after=_readable(model, field, after, lookup),
        )

    if event.pgh_label == "update":
        return [
            change(field, before, after) for field, (before, after) in _shown(model, event.pgh_diff or {})
        ]
    if event.pgh_label == "insert":
        return [
            change(field, None, value)
            for field, value in _shown(model, event.pgh_data)
            if value not in (None, "")
        ]
    return []


def history_entries(events: Iterable[AuditEvent]) -> list[HistoryEntry]:
    """The events as readable entries, in the order given. A fixed number of queries: one per kind of
    object the events point to (users, organisations, patients), whatever the number of events."""
    events = list(events)
    lookup = _Lookup()
    models = {label: apps.get_model(label) for label in {e.pgh_obj_model for e in events}}
    for event in events:
        model = models[event.pgh_obj_model]
        lookup.want(User, event.user_id)
        if model in _NAMED_BY_SNAPSHOT:
            lookup.name_from_snapshot(
                model, event.pgh_data.get("id"), _record_name(model, event.pgh_data, lookup)
            )
        values = [*_shown(model, event.pgh_data)]
        values += [(f, v) for f, pair in _shown(model, event.pgh_diff or {}) for v in pair]
        for shown_field, value in values:
            if (related := _related_model(shown_field)) is not None:
                lookup.want(related, value)
    lookup.fetch()
    return [
        HistoryEntry(
            key=event.pgh_slug,
            at=event.pgh_created_at,
            kind=event.pgh_label,
            kind_label=str(HISTORY_KIND_LABELS.get(event.pgh_label, event.pgh_label)),
            actor=lookup.user(event.user_id),
            actor_name=lookup.name(User, event.user_id) if event.user_id is not None else "",
            url=event.url or "",
            record_type=capfirst(str(models[event.pgh_obj_model]._meta.verbose_name)),
            record=_record_name(models[event.pgh_obj_model], event.pgh_data, lookup),
            changes=_changes(models[event.pgh_obj_model], event, lookup),
            earlier_values_unknown=event.pgh_label == "update" and event.pgh_diff is None,
        )
        for event in events
    ]
