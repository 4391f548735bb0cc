"""The access matrix's rows for the questionnaires on a plan (issue 16) (merged by
tests/test_access_matrix.py, see its PARTS).

The patient's responses belong to the plan: those who take part in it open them and enter new ones (in the
world's own plan its three sectors and its coordinator, in the foreign plan the outsider). Only the plan's
coordinator (or substitute) marks a flag seen — the foreign plan has none, so there it is refused to all;
the coordinator or the staff member who entered it marks a response entered in error (in the own plan the
coordinator entered it, in the foreign plan the outsider). Everyone else gets 404, the same as for a
response that does not exist. A relative's responses (the relative's own data) are tested in
tests/quality/test_staff_pages.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.utils import timezone

from quality import instruments, services
from quality.choices import (
    BandTone,
    Direction,
    EducationBand,
    LegalBasis,
    Measure,
    Milestone,
    Outcome,
    Period,
    Population,
    QuestionnaireStatus,
    ReportingUnit,
    Respondent,
    ResponseSource,
)
from quality.models import (
    Indicator,
    Questionnaire,
    QuestionnaireRequest,
    QuestionnaireResponse,
    QuestionnaireSchedule,
    SocialBackground,
)

STAFF = ["admin", "coordinator", "hospital_doctor", "home_nurse", "gp_doctor", "outsider"]
IN_PLAN = {"coordinator", "hospital_doctor", "home_nurse", "gp_doctor"}


def _rule(own: dict[str, int], other: dict[str, int]) -> dict[str, dict[str, int]]:
    return {
        "own": dict.fromkeys(STAFF, 404) | own | {"anonymous": 302},
        "other": dict.fromkeys(STAFF, 404) | other | {"anonymous": 302},
    }


def _in_the_plan(ok: int) -> dict[str, dict[str, int]]:
    return _rule(dict.fromkeys(IN_PLAN, ok), {"outsider": ok})


def _refused_for_all() -> dict[str, dict[str, int]]:
    rule = dict.fromkeys(STAFF, 405) | {"anonymous": 302}
    return {"own": rule, "other": rule}


# Marking a flag seen: the coordinator; the plan's other participants are refused (403).
_FLAG_SEEN = _rule(dict.fromkeys(IN_PLAN, 403) | {"coordinator": 302}, {"outsider": 403})
# Entered in error: the coordinator (who entered the own plan's) or, in the foreign plan, the outsider who
# entered it; the other participants are refused (403).
_MARK_ERROR = _rule(dict.fromkeys(IN_PLAN, 403) | {"coordinator": 302}, {"outsider": 302})

ROWS: dict[str, tuple[str | None, dict[str, Any]]] = {
    "quality:response-create": ("plan", {"GET": _in_the_plan(200), "POST": _in_the_plan(302)}),
    "quality:response-detail": ("plan-response", {"GET": _in_the_plan(200)}),
    "quality:response-flag-seen": ("plan-response", {"GET": _refused_for_all(), "POST": _FLAG_SEEN}),
    "quality:response-mark-error": ("plan-response", {"GET": _refused_for_all(), "POST": _MARK_ERROR}),
}


def _who5() -> Questionnaire:
    instruments.ship(apps)  # a transactional test's flush may have emptied the data migration's
    return Questionnaire.objects.get(key=instruments.WHO5_KEY)


def _entry_body(asker: Any) -> dict[str, Any]:
    return {
        "questionnaire": instruments.WHO5_KEY,
        "respondent": "patient",
        "source": ResponseSource.STAFF_VISIT,
        "answered_on": timezone.localdate().isoformat(),
        "item_cheerful": "3",
        "item_calm": "3",
        "item_active": "4",
        "item_rested": "2",
        "item_interest": "3",
    }


def _response(world: Any, plan: Any) -> QuestionnaireResponse:
    """The plan's flagged WHO-5 response, entered by staff (the coordinator in the own plan, the outsider
    in the foreign one), made where there is none."""
    found = QuestionnaireResponse.objects.filter(plan=plan, relative__isnull=True).order_by("pk").first()
    if found is not None:
        return found
    questionnaire = _who5()
    items = questionnaire.items.order_by("position").values_list("link_id", flat=True)
    return services.response_record(
        questionnaire=questionnaire,
        plan=plan,
        answers=dict.fromkeys(items, 1),  # raw 5, score 20: flagged
        source=ResponseSource.STAFF_PHONE,
        actor=world.coordinator if plan == world.plan else world.outsider,
        answered_on=timezone.localdate(),
    )


def _version(world: Any, plan: Any) -> int:
    response = _response(world, plan)
    return QuestionnaireResponse.objects.values_list("version", flat=True).get(pk=response.pk)


BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "quality:response-create": _entry_body,
    "quality:response-mark-error": lambda asker: {"version": _version(asker.world, asker.plan)},
}
CHANGES: set[str] = {"quality:response-create", "quality:response-flag-seen", "quality:response-mark-error"}
URL_KINDS: dict[str, Callable[[Any, Any], list[Any]]] = {
    "plan-response": lambda world, plan: [plan.public_id, _response(world, plan).public_id],
}
# admin model ("app_model") → (the ADMIN_ROWS_OF name its object URLs use or None, what an
# administrator may do besides reading): quality/admin.py. The questionnaires (with their questions, scale
# and bands as inlines), their schedules and the indicators are data an administrator keeps (a used
# questionnaire is protected from deletion by its schedules and responses: Django's page says so). The
# questionnaires sent and the responses are read-only; the social background is view-only (its own
# permission, which the superuser holds). The summary table and its refresh runs have no admin.
_KEPT = frozenset({"add", "change", "delete"})
ADMIN_MODELS: dict[str, tuple[str | None, frozenset[str]]] = {
    "quality_questionnaire": ("questionnaire", _KEPT),
    "quality_questionnaireschedule": ("questionnaire_schedule", _KEPT),
    "quality_questionnairerequest": ("questionnaire_request", frozenset()),
    "quality_questionnaireresponse": ("questionnaire_response", frozenset()),
    "quality_indicator": ("indicator", _KEPT),
    "quality_socialbackground": ("social_background", frozenset()),
}


def _rows(prefix: str, rows: list[dict[str, str]]) -> dict[str, str]:
    """An inline formset with these new rows."""
    body = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": "0"}
    for index, row in enumerate(rows):
        body |= {f"{prefix}-{index}-{field}": value for field, value in row.items()}
    return body


def _questionnaire_body(_world: Any) -> dict[str, Any]:
    """A yes/no questionnaire of two questions, its score bands and a flag rule."""
    return {
        "name": "Matrix-spørgeskema",
        "key": "matrix",
        "version": "1",
        "status": QuestionnaireStatus.DRAFT,
        "respondents": Respondent.PATIENT,
        "title_da": "Sådan har du det",
        "title_en": "How you are",
        "attribution": "Fælles forløbs eget testskema.",
        "score_multiplier": "1",
        "higher_is_better": "on",
        "flag_score_at_most": "0",
        **_rows(
            "items",
            [
                {
                    "position": "1",
                    "link_id": "sleep",
                    "text_da": "Jeg sover godt.",
                    "text_en": "I sleep well.",
                },
                {"position": "2", "link_id": "eat", "text_da": "Jeg spiser godt.", "text_en": "I eat well."},
            ],
        ),
        **_rows(
            "options",
            [
                {"position": "1", "value": "1", "text_da": "Ja", "text_en": "Yes"},
                {"position": "2", "value": "0", "text_da": "Nej", "text_en": "No"},
            ],
        ),
        **_rows(
            "bands",
            [
                {"lowest": "0", "highest": "0", "label_da": "Lav", "label_en": "Low", "tone": BandTone.ALERT},
                {"lowest": "1", "highest": "2", "label_da": "God", "label_en": "Good", "tone": BandTone.GOOD},
            ],
        ),
    }


ADMIN_ADD_BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "quality_questionnaire": _questionnaire_body,
    "quality_questionnaireschedule": lambda _world: {
        "questionnaire": _who5().pk,
        "respondent": Respondent.PATIENT,
        "milestone": Milestone.EVERY_MONTHS,
        "offset_days": "0",
        "every_months": "6",
        "window_days": "14",
        "reminder_days": "4,9",
        "is_active": "on",
    },
    "quality_indicator": lambda _world: {
        "key": "matrix",
        "position": "99",
        "name_da": 'Planer med "hvad er vigtigt for dig"',
        "name_en": 'Plans with "what matters to you"',
        "measure": Measure.PROPORTION,
        "population": Population.PLANS_OPEN,
        "outcome": Outcome.WHAT_MATTERS_WRITTEN,
        "parameters": "{}",
        "standard": "80.0",
        "direction": Direction.AT_LEAST,
        "period": Period.QUARTER,
        "reporting_unit": ReportingUnit.COORDINATOR_ORGANISATION,
        "is_active": "on",
    },
}


def _request(world: Any) -> QuestionnaireRequest:
    """The own plan's patient's WHO-5 sent (tests/portal/matrix_portal.py sends it; made where missing)."""
    found = QuestionnaireRequest.objects.filter(plan=world.plan, relative__isnull=True).order_by("pk").first()
    if found is not None:
        return found
    today = timezone.localdate()
    return QuestionnaireRequest.objects.create(
        plan=world.plan,
        questionnaire=_who5(),
        occurrence="matrix",
        opens_on=today,
        expires_on=today + timedelta(days=14),
    )


def _social_background(world: Any) -> SocialBackground:
    """The own plan's patient's social background (synthetic), made where missing."""
    row, _created = SocialBackground.objects.get_or_create(
        patient=world.patient,
        defaults={"education": EducationBand.BASIC, "legal_basis": LegalBasis.SYNTHETIC},
    )
    return row


def _schedule(_world: Any) -> QuestionnaireSchedule:
    """WHO-5's first shipped schedule."""
    return QuestionnaireSchedule.objects.filter(questionnaire=_who5()).order_by("pk")[0]


def _indicator(_world: Any) -> Indicator:
    """The first shipped indicator."""
    instruments.ship(apps)
    return Indicator.objects.order_by("position", "key")[0]


ADMIN_ROWS_OF: dict[str, Callable[[Any], Any]] = {
    "questionnaire": lambda _world: _who5(),
    "questionnaire_schedule": _schedule,
    "questionnaire_request": _request,
    "questionnaire_response": lambda world: _response(world, world.plan),
    "indicator": _indicator,
    "social_background": _social_background,
}


def build(world: Any) -> None:
    """A flagged WHO-5 response in each plan."""
    for plan in (world.plan, world.other_plan):
        _response(world, plan)
