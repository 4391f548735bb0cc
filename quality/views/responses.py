"""Staff pages for the questionnaires on a plan: a response's page (a logged read), marking its flag seen
(the coordinator) or the response entered in error, and entering a response on a person's behalf (answered
by phone, on paper or at a visit).

Access (quality.access): the patient's responses are seen by everyone who sees the plan; a relative's only
by those who may see the relative's support record — everyone else gets 404, as for a response that does
not exist. Forms are pages of their own (plain POST, no JavaScript needed).
"""

from __future__ import annotations

from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext

from pathways.access import PlanAccess
from pathways.models import PathwayPlan
from pathways.services import VersionConflict
from pathways.views.base import add_errors, editable_plan, plan_url, staff, staff_view
from quality import access, selectors, services
from quality.forms import ITEM_FIELD_PREFIX, StaffResponseForm, VersionForm
from quality.instruments import WHO5_KEY
from quality.models import Questionnaire, QuestionnaireResponse

SECTION = "wellbeing"  # the plan page's section (its anchor)


def _response_url(plan: PathwayPlan, response: QuestionnaireResponse) -> str:
    return reverse("quality:response-detail", args=[plan.public_id, response.public_id])


def _detail_page(
    request: HttpRequest,
    granted: PlanAccess,
    response: QuestionnaireResponse,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    detail = selectors.response_detail(actor=staff(request), granted=granted, response=response)
    context = {"plan": granted.plan, "detail": detail, "response": detail.response, "error": error}
    return render(request, "quality/response_detail.html", context, status=status)


@staff_view("GET", "HEAD")
def response_detail(request: HttpRequest, public_id: UUID, response_id: UUID) -> HttpResponse:
    """A response: each question with its answer's words and value, the score, its band (not a diagnosis),
    the flagged questions, how it was answered and who entered it. Opening it is logged."""
    granted = access.access_plan_for_response(staff(request), public_id, response_id)
    response = access.access_response(granted, response_id)
    return _detail_page(request, granted, response)


@staff_view("POST")
def response_flag_seen(request: HttpRequest, public_id: UUID, response_id: UUID) -> HttpResponse:
    """The coordinator (or substitute) has looked at a flagged answer; marking it again changes nothing."""
    actor = staff(request)
    granted = access.access_plan_for_response(actor, public_id, response_id, write=True)
    response = access.access_response(granted, response_id)
    if not granted.rights.is_coordinator or granted.emergency is not None:
        raise PermissionDenied
    try:
        services.flag_mark_seen(actor=actor, response=response)
    except ValidationError as error:
        return _detail_page(request, granted, response, error=" ".join(error.messages), status=422)
    return redirect(_response_url(granted.plan, response))


@staff_view("POST")
def response_mark_error(request: HttpRequest, public_id: UUID, response_id: UUID) -> HttpResponse:
    """Mark a response entered in error (it stays, struck from the trend), with the version the user saw."""
    actor = staff(request)
    granted = access.access_plan_for_response(actor, public_id, response_id, write=True)
    response = access.access_response(granted, response_id)
    if not access.may_mark_error(granted, actor, response):
        raise PermissionDenied
    form = VersionForm(request.POST)
    if not form.is_valid():
        return _detail_page(
            request, granted, response, error=gettext("The page was out of date. Try again."), status=400
        )
    try:
        services.response_mark_error(
            actor=actor, response=response, expected_version=form.cleaned_data["version"]
        )
    except VersionConflict:
        fresh = access.access_response(granted, response_id)
        message = gettext(
            "Someone else changed this response while you looked at it. Below is what is saved now."
        )
        return _detail_page(request, granted, fresh, error=message, status=409)
    except ValidationError as error:
        return _detail_page(request, granted, response, error=" ".join(error.messages), status=422)
    return redirect(_response_url(granted.plan, response))


def _chosen(questionnaires: list[Questionnaire], key: str) -> Questionnaire | None:
    """The questionnaire named `key`, else WHO-5, else the first in use."""
    return (
        next((q for q in questionnaires if q.key == key), None)
        or next((q for q in questionnaires if q.key == WHO5_KEY), None)
        or (questionnaires[0] if questionnaires else None)
    )


@staff_view("GET", "POST")
def response_create(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Enter a response on a person's behalf: choose the questionnaire (?questionnaire=<key>), who answered
    (the patient or a relative whose support record one may see), how and when, and one answer per
    question. Bad input: the form again with its errors, nothing written."""
    actor, granted = editable_plan(request, public_id)
    plan = granted.plan
    if not access.may_enter_response(granted):
        raise PermissionDenied
    relatives = selectors.respondents_for(granted)
    questionnaires = [
        q for q in selectors.questionnaires_to_enter() if "patient" in q.respondents or relatives
    ]
    posted = request.method == "POST"
    key = request.POST.get("questionnaire", "") if posted else request.GET.get("questionnaire", "")
    questionnaire = _chosen(questionnaires, key)
    context: dict[str, object] = {
        "plan": plan,
        "questionnaires": questionnaires,
        "questionnaire": questionnaire,
        "back_url": plan_url(plan, SECTION),
    }
    if questionnaire is None:
        context["form"] = None
        return render(request, "quality/response_form.html", context, status=422 if posted else 200)
    form = StaffResponseForm(
        request.POST if posted else None,
        questionnaire=questionnaire,
        relatives=relatives,
        auto_id="response-%s",
    )
    if posted and form.is_valid():
        relative = form.relative()
        try:
            services.response_record(
                questionnaire=questionnaire,
                plan=plan,
                answers=form.answers(),
                source=form.cleaned_data["source"],
                relative=relative,
                actor=actor,
                answered_on=form.cleaned_data["answered_on"],
            )
        except ValidationError as error:
            names = {item.link_id: ITEM_FIELD_PREFIX + item.link_id for item in form.items}
            add_errors(form, error, names | {"relative": "respondent"})
        else:
            return redirect(plan_url(plan, SECTION))
    context["form"] = form
    return render(request, "quality/response_form.html", context, status=422 if form.errors else 200)
