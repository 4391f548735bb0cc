"""Relatives in the plan's FHIR Bundle (pathways.fhir, through extensions.FHIR_CONTRIBUTORS): a
RelatedPerson and the Consent that lets them take part, for each relative the patient has let take part —
whose latest decision, valid today, is to see the whole plan, its appointments, or to be the contact person.
A relative who is not to be involved, a removed one, and a child (who never gets access of their own) are
left out: the patient has not let their name travel with the plan."""

from __future__ import annotations

from collections.abc import Mapping

from pathways.fhir import CODE_SYSTEM_BASE, LOINC, PlanExport, concept, day, instant, period
from relatives import access
from relatives.choices import ConsentDecider, ConsentScope, Relation
from relatives.models import Relative, RelativeConsent

ROLE_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
NEXT_OF_KIN_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0131"
CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
RELATIVE_ACCESS_SYSTEM = CODE_SYSTEM_BASE + "relative-access"

# RelatedPerson.relationship (PatientRelationshipType: v3 RoleCode). "Other" has no code: its text says it.
RELATION_CODES: Mapping[str, tuple[str, str] | None] = {
    Relation.SPOUSE: ("SPS", "spouse"),
    Relation.CHILD: ("CHILD", "child"),
    Relation.PARENT: ("PRN", "parent"),
    Relation.SIBLING: ("SIB", "sibling"),
    Relation.GRANDCHILD: ("GRNDCHILD", "grandchild"),
    Relation.OTHER_FAMILY: ("FAMMEMB", "family member"),
    Relation.FRIEND: ("FRND", "unrelated friend"),
    Relation.NEIGHBOUR: ("NBOR", "neighbor"),
    Relation.OTHER: None,
}
# What the consent lets the relative see (the product's own codes), for the scopes that are exported.
EXPORTED_SCOPES: Mapping[str, str] = {
    ConsentScope.WHOLE_PLAN: "Hele planen",
    ConsentScope.APPOINTMENTS: "Kun aftaler",
    ConsentScope.CONTACT_ONLY: "Kun kontaktperson (ser intet)",
}


def _related_person(export: PlanExport, relative: Relative) -> dict[str, str]:
    relation = Relation(relative.relation)
    relationship = []
    code = RELATION_CODES[relation]
    text = relative.relation_detail or str(relation.label)
    relationship.append(concept(ROLE_CODE_SYSTEM, *code, text=text) if code else {"text": text})
    if relative.is_closest:
        relationship.append(concept(NEXT_OF_KIN_SYSTEM, "N", "Next-of-Kin", text="Nærmeste pårørende"))
    telecom = []
    if relative.phone:
        telecom.append({"system": "phone", "value": relative.phone})
    if relative.email:
        telecom.append({"system": "email", "value": relative.email})
    return export.add(
        f"relative:{relative.pk}",
        {
            "resourceType": "RelatedPerson",
            "id": str(relative.public_id),
            "active": True,
            "patient": export.patient_ref,
            "relationship": relationship,
            "name": [{"text": relative.name}],
            "telecom": telecom,
            "address": [{"text": relative.address}] if relative.address else [],
            "communication": [{"language": concept("urn:ietf:bcp:47", relative.language), "preferred": True}],
        },
    )


def _consent(export: PlanExport, consent: RelativeConsent, person: dict[str, str], scope: str) -> None:
    performer = (
        export.patient_ref
        if consent.decided_by == ConsentDecider.PATIENT
        else {"display": consent.representative_name}
    )
    export.add(
        f"consent:{consent.pk}",
        {
            "resourceType": "Consent",
            "id": str(consent.public_id),
            "status": "active",
            "scope": concept(CONSENT_SCOPE_SYSTEM, "patient-privacy", "Privacy Consent"),
            "category": [concept(LOINC, "59284-0", "Patient Consent")],
            "patient": export.patient_ref,
            "dateTime": instant(consent.recorded_at),
            "performer": [performer],
            "organization": [export.organization(consent.recorded_by_organisation)]
            if consent.recorded_by_organisation is not None
            else [],
            "policyRule": concept(ACT_CODE_SYSTEM, "OPTIN", "opt-in"),
            "provision": {
                "type": "permit",
                "period": period(consent.valid_from, consent.valid_until)
                or {"start": day(consent.valid_from)},
                "actor": [
                    {
                        "role": concept(PARTICIPATION_SYSTEM, "IRCP", "information recipient"),
                        "reference": person,
                    }
                ],
                "code": [concept(RELATIVE_ACCESS_SYSTEM, scope, EXPORTED_SCOPES[scope])],
            },
        },
    )


def add_relatives(export: PlanExport) -> None:
    """The relatives the patient has let take part, each with the consent that counts (two queries)."""
    relatives = list(
        Relative.objects.current().filter(plan=export.plan).order_by("-is_closest", "name", "id")
    )
    consents = access.latest_consents(relatives)
    for relative in relatives:
        consent = consents.get(relative.pk)
        scope = access.scope_of(relative, consent)
        if consent is None or scope not in EXPORTED_SCOPES:
            continue
        _consent(export, consent, _related_person(export, relative), scope)
