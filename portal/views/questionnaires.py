"""Questionnaires in the portal (issue 16): the patient, or a relative about themselves, answers the wellbeing
questions sent to them — with the sign-in and asking for a printed plan, the only writes a reader makes here.

- The plan page lists "A questionnaire is waiting for you" (portal.views.plan, the reader's own only).
- The answer page (`questionnaire`): GET shows the questions as radio buttons (no JavaScript), logged as a
  read (AccessAction.PORTAL_QUESTIONNAIRE; a HEAD request shows nothing and is not). POST hands the answers
  to quality.services.response_submit_portal, which stores them (source PORTAL, the score derived, the
  request answered and its reminders cancelled, in one transaction); then on to the page after it. A
  question left out: the form again (422) with the answers kept and an error on each question left out,
  nothing written.
- The page after it (`questionnaire-done`): thanks, in plain words — never a score. The same page answers a
  questionnaire that was answered before; one whose time ran out, or that was taken back, says so (410).

Another person's questionnaire (the patient's to a relative, a relative's to the patient or to another
relative), another plan's or one that does not exist is the portal's 404, as a plan is.
"""

from __future__ import annotations

from typing import cast
from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from portal import access, selectors
from portal.forms import QuestionnaireAnswersForm
from portal.readmodels import PortalQuestionnaire
from portal.views.base import PortalRequest, portal_render, portal_view
from quality import services as quality_services
from quality.models import QuestionnaireRequest

INVALID = 422
GONE = 410


def _done_page(
    request: HttpRequest, reader: access.PortalReader, asked: QuestionnaireRequest
) -> HttpResponse:
    """Thanks for an answered questionnaire (200); "too late" or "no longer needed" for a closed one (410)."""
    page = selectors.portal_questionnaire_done(reader=reader, asked=asked)
    status = 200 if page.state == "answered" else GONE
    return portal_render(request, "portal/questionnaire_done.html", {"page": page}, status=status)


def _refused(error: ValidationError, page: PortalQuestionnaire) -> tuple[dict[str, str], str]:
    """quality.services' refusal as the page shows it: an error on each question it names, else one about
    the form."""
    links = {question.link_id for question in page.questions}
    named = getattr(error, "error_dict", {})
    errors = {
        link: " ".join(str(message) for inner in named[link] for message in inner.messages)
        for link in links & set(named)
    }
    return errors, "" if errors else str(selectors.QUESTIONNAIRE_NOT_SENT)


@portal_view(methods=("GET", "HEAD", "POST"))
def portal_questionnaire(request: HttpRequest, public_id: UUID, request_id: UUID) -> HttpResponse:
    """The questions, and sending the answers (see the module)."""
    session = cast(PortalRequest, request).portal_session
    reader, asked = access.access_portal_questionnaire(
        session, public_id=public_id, request_id=request_id, log=request.method == "GET"
    )
    if not access.questionnaire_answerable(asked):
        return _done_page(request, reader, asked)
    page = selectors.portal_questionnaire(reader=reader, asked=asked)
    if request.method != "POST":
        return portal_render(request, "portal/questionnaire.html", {"page": page})
    form = QuestionnaireAnswersForm(request.POST, questions=page.questions)
    chosen = form.chosen()
    if form.is_valid():
        try:
            quality_services.response_submit_portal(
                request=asked, reader=reader.reader, answers=form.answers()
            )
        except PermissionDenied:  # no longer theirs (a consent withdrawn this moment): as any other
            raise Http404 from None
        except ValidationError as error:
            reader, asked = access.access_portal_questionnaire(  # as it stands now
                session, public_id=public_id, request_id=request_id, log=False
            )
            if not access.questionnaire_answerable(asked):  # answered in another tab, time or plan ended
                return _done_page(request, reader, asked)
            errors, whole = _refused(error, page)
        else:
            return redirect("portal:questionnaire-done", public_id=public_id, request_id=request_id)
    else:
        errors, whole = form.question_errors(), ""
    page = selectors.portal_questionnaire(
        reader=reader, asked=asked, chosen=chosen, errors=errors, error=whole
    )
    return portal_render(request, "portal/questionnaire.html", {"page": page}, status=INVALID)


@portal_view()
def portal_questionnaire_done(request: HttpRequest, public_id: UUID, request_id: UUID) -> HttpResponse:
    """After sending: thanks. A questionnaire still to answer goes back to its questions."""
    session = cast(PortalRequest, request).portal_session
    reader, asked = access.access_portal_questionnaire(
        session, public_id=public_id, request_id=request_id, log=False
    )
    if access.questionnaire_answerable(asked):
        return redirect("portal:questionnaire", public_id=public_id, request_id=request_id)
    return _done_page(request, reader, asked)
