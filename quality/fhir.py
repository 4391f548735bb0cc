"""Answered questionnaires in the plan's FHIR Bundle (pathways.fhir, through extensions.FHIR_CONTRIBUTORS):
each of the patient's own responses a QuestionnaireResponse — the questionnaire's canonical URL and
version, the answers by link id, who entered it, and entered-in-error kept as such. A relative's responses
are the relative's own data (quality.access) and are never part of the patient's plan."""

from __future__ import annotations

from collections.abc import Mapping

from pathways.fhir import PlanExport, day
from quality.choices import ResponseSource, ResponseStatus
from quality.models import Questionnaire, QuestionnaireItem, QuestionnaireResponse

QUESTIONNAIRE_BASE = "https://faelles-forloeb.dk/fhir/Questionnaire/"
# QuestionnaireResponse.status (required binding).
RESPONSE_STATUS: Mapping[str, str] = {
    ResponseStatus.COMPLETED: "completed",
    ResponseStatus.ENTERED_IN_ERROR: "entered-in-error",
}


def questionnaire_url(questionnaire: Questionnaire) -> str:
    """The questionnaire's canonical reference, with its version."""
    return f"{QUESTIONNAIRE_BASE}{questionnaire.key}|{questionnaire.version}"


def add_responses(export: PlanExport) -> None:
    """The patient's responses on the plan, oldest first (two queries)."""
    responses = list(
        QuestionnaireResponse.objects.filter(plan=export.plan, relative__isnull=True)
        .select_related("questionnaire", "entered_by", "entered_by_organisation")
        .order_by("answered_on", "id")
    )
    items: dict[int, list[QuestionnaireItem]] = {}
    for item in QuestionnaireItem.objects.filter(
        questionnaire_id__in={response.questionnaire_id for response in responses}
    ).order_by("position"):
        items.setdefault(item.questionnaire_id, []).append(item)
    for response in responses:
        author = (
            export.practitioner_role(response.entered_by, response.entered_by_organisation)
            if response.source != ResponseSource.PORTAL and response.entered_by is not None
            else export.patient_ref
        )
        answered = [
            {
                "linkId": item.link_id,
                "text": item.text_da,
                "answer": [{"valueInteger": int(response.answers[item.link_id])}],
            }
            for item in items.get(response.questionnaire_id, [])
            if item.link_id in response.answers
        ]
        export.add(
            f"response:{response.pk}",
            {
                "resourceType": "QuestionnaireResponse",
                "id": str(response.public_id),
                "meta": {"versionId": str(response.version)},
                "questionnaire": questionnaire_url(response.questionnaire),
                "basedOn": [export.plan_ref],
                "status": RESPONSE_STATUS[response.status],
                "subject": export.patient_ref,
                "authored": day(response.answered_on),
                "author": author,
                "source": export.patient_ref,
                "item": answered,
            },
        )
