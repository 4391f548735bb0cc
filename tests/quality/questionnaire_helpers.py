"""Helpers for the questionnaire tests (core): the shipped questionnaires, answers that add up to a raw
score, relatives with a consent, and hospital events on the world's plan."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from pathways import outbox, stays
from pathways.choices import NotificationKind, StayClass, TransitionKind
from pathways.models import Notification, PathwayPlan
from quality import instruments
from quality.instruments import CSI_KEY, WHO5_KEY
from quality.models import Questionnaire, QuestionnaireRequest
from relatives import services as relatives_services
from relatives.choices import ConsentMethod, ConsentScope, Relation, RelativeChannel
from relatives.models import Relative

QUESTIONNAIRE_MESSAGES = (NotificationKind.QUESTIONNAIRE_SENT, NotificationKind.QUESTIONNAIRE_REMINDER)


@pytest.fixture(autouse=True)
def shipped(db) -> None:
    """The shipped questionnaires and schedules (a data migration wrote them; a transactional test elsewhere
    in the run empties the tables): written where missing. Imported by the test modules (autouse there)."""
    instruments.ship(apps)


def who5() -> Questionnaire:
    return Questionnaire.objects.get(key=WHO5_KEY)


def csi() -> Questionnaire:
    return Questionnaire.objects.get(key=CSI_KEY)


def link_ids(questionnaire: Questionnaire) -> list[str]:
    return list(questionnaire.items.order_by("position").values_list("link_id", flat=True))


def answers(questionnaire: Questionnaire, values: list[int]) -> dict[str, int]:
    ids = link_ids(questionnaire)
    assert len(ids) == len(values)
    return dict(zip(ids, values, strict=True))


def who5_raw(raw: int) -> dict[str, int]:
    """WHO-5 answers adding up to `raw`, spread so no item is lower than needed (raw 13 → 3,3,3,2,2)."""
    base, extra = divmod(raw, 5)
    return answers(who5(), [base + (1 if i < extra else 0) for i in range(5)])


def csi_yes(count: int) -> dict[str, int]:
    total = len(link_ids(csi()))
    return answers(csi(), [1] * count + [0] * (total - count))


def relative_add(
    plan: PathwayPlan,
    *,
    name: str = "Lars Testesen",
    scope: str | None = ConsentScope.WHOLE_PLAN,
    channel: str = RelativeChannel.SMS,
    phone: str = "22 41 63 18",
    is_child: bool = False,
) -> Relative:
    consent = None
    if scope is not None:
        consent = {"scope": scope, "method": ConsentMethod.SPOKEN, "coercion_checked": True}
    return relatives_services.relative_add(
        actor=None,
        plan=plan,
        name=name,
        relation=Relation.CHILD if is_child else Relation.SPOUSE,
        phone=phone,
        preferred_channel=channel,
        is_child=is_child,
        child_age=12 if is_child else None,
        consent=consent,
    )


def plan_start(plan: PathwayPlan) -> date:
    return timezone.localtime(plan.created_at).date()


def at(day: date, hour: int = 10) -> datetime:
    return outbox.local_moment(day, time(hour, 0))


def discharge(world, *, days_ago: int = 31) -> None:
    """Kirsten admitted and discharged home `days_ago` days ago (through pathways.stays)."""
    today = timezone.localdate()
    for kind, moment in (
        (TransitionKind.ADMISSION, at(today - timedelta(days=days_ago + 3))),
        (TransitionKind.DISCHARGE, at(today - timedelta(days=days_ago))),
    ):
        stays.transition_record(
            actor=world.hospital_doctor,
            patient=world.patient,
            kind=kind,
            occurred_at=moment,
            hospital=world.hospital,
            stay_class=StayClass.INPATIENT if kind == TransitionKind.ADMISSION else None,
        )


def messages_of(request: QuestionnaireRequest):
    return Notification.objects.filter(dedupe_key__in=request.reminder_keys)
