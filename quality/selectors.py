"""Quality's reads. Each starts from quality.access (or pathways.access) and reads in a fixed number of
queries, whatever the number of responses.

- staff: the plan page's wellbeing section (pathways.extensions.PlanSection), a response as its page shows
  it, and what the staff entry form offers.
- portal: (helper "portal").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from pathways import access as hub_access
from pathways.access import PlanAccess
from pathways.choices import AccessAction
from pathways.extensions import CaseloadExtension
from pathways.models import PathwayPlan
from quality import access
from quality.choices import QuestionnaireStatus, ResponseStatus
from quality.instruments import WHO5_KEY
from quality.models import (
    Questionnaire,
    QuestionnaireRequest,
    QuestionnaireResponse,
    ScoreBand,
)
from relatives.models import Relative

# --- staff: the plan's wellbeing section, a response page, the staff entry form (helper "staff") ---------


TREND_LENGTH = 10  # the plan section's chart and table: the last ten WHO-5 answers of the patient
RELATIVE_RESPONSES_SHOWN = 10
# The small trend chart (server-rendered SVG, user units): the plot area inside the margins.
CHART_WIDTH, CHART_HEIGHT = 320, 180
CHART_LEFT, CHART_RIGHT, CHART_TOP, CHART_BOTTOM = 34, 12, 10, 26


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    score: int
    answered_on: date
    tone: str
    href: str


@dataclass(frozen=True)
class TrendChart:
    """The wellbeing trend as the SVG draws it: the points oldest → newest, the line through them, the
    flag line (50 for WHO-5: at or below it the answer flags the plan) and the y axis ticks."""

    width: int
    height: int
    points: list[ChartPoint]
    flag_at: int | None
    flag_y: float | None
    ticks: list[tuple[int, float]]
    left: int
    right: float
    bottom: float
    max_score: int

    @property
    def polyline(self) -> str:
        return " ".join(f"{point.x:.1f},{point.y:.1f}" for point in self.points)

    @property
    def first(self) -> ChartPoint | None:
        return self.points[0] if self.points else None

    @property
    def last(self) -> ChartPoint | None:
        return self.points[-1] if self.points else None


@dataclass(frozen=True)
class ResponseLine:
    """A response as a row of a table: the response, its band's words in the active language and its page."""

    response: QuestionnaireResponse
    band: str
    href: str


@dataclass
class WellbeingSection:
    """The plan page's wellbeing section: the patient's WHO-5 trend (chart and table), the latest score
    with its band, open questionnaires with their answer-by date, the flagged answers the coordinator has
    not yet seen, and — for those who may see them — the relatives' responses."""

    questionnaire: Questionnaire | None
    trend: list[ResponseLine]
    chart: TrendChart | None
    latest: ResponseLine | None
    open_requests: list[QuestionnaireRequest]
    unseen_flags: list[ResponseLine]
    relative_lines: list[ResponseLine] = field(default_factory=list)
    may_enter: bool = False

    @property
    def rows_newest_first(self) -> list[ResponseLine]:
        return list(reversed(self.trend))


def response_url(response: QuestionnaireResponse, plan: PathwayPlan) -> str:
    return reverse("quality:response-detail", args=[plan.public_id, response.public_id])


def _band_words(response: QuestionnaireResponse, bands: list[ScoreBand]) -> str:
    """The band's words in the active language: of today's band with the words stored with the response (a
    later change to the bands' limits does not rewrite an old answer), else the stored words."""
    band = next((band for band in bands if band.label_da == response.band_label), None)
    return band.label if band is not None else response.band_label


def trend_chart(lines: list[ResponseLine], questionnaire: Questionnaire | None) -> TrendChart:
    """Where each answer sits in the chart: x by the date answered (evenly spread over the days between
    the first and the last), y by the score (0 at the bottom, the highest possible at the top)."""
    max_score = lines[-1].response.max_score if lines else 100
    max_score = max(max_score, 1)
    plot_w = CHART_WIDTH - CHART_LEFT - CHART_RIGHT
    plot_h = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM

    def y_of(score: float) -> float:
        return CHART_TOP + plot_h * (1 - score / max_score)

    points: list[ChartPoint] = []
    if lines:
        first = lines[0].response.answered_on
        span = (lines[-1].response.answered_on - first).days
        for index, line in enumerate(lines):
            response = line.response
            if span > 0:
                share = (response.answered_on - first).days / span
            else:
                share = 0.5 if len(lines) == 1 else index / (len(lines) - 1)
            points.append(
                ChartPoint(
                    x=CHART_LEFT + plot_w * share,
                    y=y_of(response.score),
                    score=response.score,
                    answered_on=response.answered_on,
                    tone=response.band_tone,
                    href=line.href,
                )
            )
    flag_at = questionnaire.flag_score_at_most if questionnaire is not None else None
    marks = {0, max_score // 2, max_score} | (
        {flag_at} if flag_at is not None and flag_at <= max_score else set()
    )
    ticks = [(value, y_of(value)) for value in sorted(marks)]
    return TrendChart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        points=points,
        flag_at=flag_at,
        flag_y=y_of(flag_at) if flag_at is not None else None,
        ticks=ticks,
        left=CHART_LEFT,
        right=CHART_WIDTH - CHART_RIGHT,
        bottom=CHART_HEIGHT - CHART_BOTTOM,
        max_score=max_score,
    )


def _questionnaire_with_bands(key: str) -> tuple[Questionnaire | None, list[ScoreBand]]:
    questionnaire = Questionnaire.objects.filter(key=key).prefetch_related("bands").first()
    if questionnaire is None:
        return None, []
    return questionnaire, list(questionnaire.bands.all())


def plan_wellbeing_section(actor: Any, page: Any) -> dict[str, Any] | None:
    """The plan page's wellbeing section (pathways.extensions.PlanSection), for every reader of the plan,
    in a fixed number of queries whatever the number of responses. A relative's responses only for those
    who may see the relative's support record; showing any is logged as such a read."""
    plan = page.plan
    granted = PlanAccess(plan=plan, rights=page.rights, emergency=page.emergency)
    who5, bands = _questionnaire_with_bands(WHO5_KEY)
    visible = access.responses_visible(granted).completed()
    patients = list(
        visible.filter(relative__isnull=True, questionnaire__key=WHO5_KEY).order_by("-answered_on", "-id")[
            :TREND_LENGTH
        ]
    )
    trend = [ResponseLine(r, _band_words(r, bands), response_url(r, plan)) for r in reversed(patients)]
    unseen = [
        ResponseLine(r, r.band_label, response_url(r, plan))
        for r in visible.filter(flagged=True, flag_seen_at__isnull=True)
        .select_related("questionnaire", "relative")
        .order_by("-answered_on", "-id")
    ]
    supported = access.supported_relatives(granted)
    requests = list(
        QuestionnaireRequest.objects.open()
        .filter(plan=plan)
        .filter(Q(relative__isnull=True) | Q(relative__in=supported))
        .select_related("questionnaire", "relative")
        .order_by("expires_on", "id")
    )
    relative_lines: list[ResponseLine] = []
    if page.emergency is None:
        relatives_responses = list(
            visible.filter(relative__isnull=False)
            .select_related("questionnaire", "relative")
            .order_by("-answered_on", "-id")[:RELATIVE_RESPONSES_SHOWN]
        )
        relative_lines = [ResponseLine(r, r.band_label, response_url(r, plan)) for r in relatives_responses]
        if relative_lines:
            hub_access.access_log_plans(actor, [plan], action=AccessAction.VIEW_RELATIVE_SUPPORT)
    participating = {participant.organisation_id for participant, _accepted in page.participants}
    section = WellbeingSection(
        questionnaire=who5,
        trend=trend,
        chart=trend_chart(trend, who5) if trend else None,
        latest=trend[-1] if trend else None,
        open_requests=requests,
        unseen_flags=unseen,
        relative_lines=relative_lines,
        may_enter=access.may_enter_response(granted, participating=participating),
    )
    return {"wellbeing": section}


@dataclass(frozen=True)
class AnswerLine:
    """One question of a response as the response page shows it: the words of the answer, its value and
    whether it was at or below the item rule (a flagged item)."""

    position: int
    text: str
    answer: str
    value: int | None
    low: bool


@dataclass(frozen=True)
class ResponseDetail:
    response: QuestionnaireResponse
    lines: list[AnswerLine]
    band: str
    may_mark_seen: bool
    may_mark_error: bool


def response_detail(*, actor: Any, granted: PlanAccess, response: QuestionnaireResponse) -> ResponseDetail:
    """A response the reader has through access.access_response: each question with the words of the
    answer given (in the active language), in three queries however many questions."""
    questionnaire = response.questionnaire
    items = list(questionnaire.items.order_by("position"))
    options = {option.value: option for option in questionnaire.options.all()}
    bands = list(questionnaire.bands.all())
    low = set(response.low_items)
    lines = []
    for item in items:
        value = response.answers.get(item.link_id)
        option = options.get(value) if isinstance(value, int) else None
        lines.append(
            AnswerLine(
                position=item.position,
                text=item.text,
                answer=option.text if option is not None else "—",
                value=value if isinstance(value, int) else None,
                low=item.link_id in low,
            )
        )
    completed = response.status == ResponseStatus.COMPLETED
    return ResponseDetail(
        response=response,
        lines=lines,
        band=_band_words(response, bands),
        may_mark_seen=completed and access.may_mark_flag_seen(granted.rights, response),
        may_mark_error=completed and access.may_mark_error(granted, actor, response),
    )


def questionnaires_to_enter() -> list[Questionnaire]:
    """The questionnaires in use, with their items and scale (three queries), for the staff entry form."""
    return list(
        Questionnaire.objects.filter(status=QuestionnaireStatus.ACTIVE)
        .prefetch_related("items", "options")
        .order_by("name", "id")
    )


def respondents_for(granted: PlanAccess) -> list[Relative]:
    """The relatives a staff member may enter a response for: those still on the plan, adults, whose
    support record they may see (one query)."""
    return list(
        access.supported_relatives(granted)
        .filter(ended_at__isnull=True, is_child=False)
        .order_by("name", "id")
    )


def unseen_flag_exists(actor: Any) -> Exists:
    """Whether a plan has a flagged answer its coordinator has not yet marked seen, as a subquery on
    plans: the patient's answers for everyone; a relative's only for the plan's coordinator (or
    substitute), who may see every relative's support record."""
    own_or_coordinated = Q(relative__isnull=True) | hub_access.coordinated_by(actor, via="plan__")
    return Exists(
        QuestionnaireResponse.objects.completed().filter(
            own_or_coordinated, plan=OuterRef("pk"), flagged=True, flag_seen_at__isnull=True
        )
    )


def _caseload_annotate(plans: QuerySet[PathwayPlan], actor: Any) -> QuerySet[PathwayPlan]:
    return plans.annotate(wellbeing_flag=unseen_flag_exists(actor))


# The caseload's wellbeing column and filter ("Trivsel: svar at se på").
CASELOAD_EXTENSION = CaseloadExtension(
    key="quality",
    annotate=_caseload_annotate,
    header_template="quality/_partials/caseload_header.html",
    cells_template="quality/_partials/caseload_cells.html",
    filters={
        "wellbeing_flag": (
            _("Wellbeing: answers to look at"),
            lambda plans, _actor: plans.filter(wellbeing_flag=True),
        )
    },
)

# --- portal (helper "portal") -------------------------------------------------------------------------------
