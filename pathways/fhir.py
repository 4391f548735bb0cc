"""A patient's plan as a FHIR R4 Bundle (type collection): the mapping of DESIGN.md's last section.

The hub writes what it owns — CarePlan, CareTeam, Patient, Organization, Practitioner, PractitionerRole,
Condition, Goal, Task, Encounter (the hospital stays) and a Provenance for the plan — and the apps above add
theirs through `extensions.FHIR_CONTRIBUTORS` (relatives: RelatedPerson and Consent; coordination:
Communication; quality: QuestionnaireResponse), each with the `PlanExport` in hand: the reader's access,
the references already made, and `organization()`/`practitioner_role()` to refer to someone the hub has
not yet written.

Every status and code comes from a table here (or in the contributing app), keyed by the product's own
choices: a choice without a row is a failing test (tests/fhir/test_plan_export.py), never a guessed code.
Resources carry their public id as FHIR id; every entry's fullUrl is `urn:uuid:<id>` and every reference
points at a fullUrl in the same Bundle, so the Bundle stands on its own. The CPR number is an identifier of
the Patient (DK Core's system) and nowhere else — no URL, no id, no log.

The reads: a fixed number of queries whatever the number of tasks, goals or stays (the API's test counts
them). The caller has the plan through the access policy and logs the read (pathways.api).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, cast
from uuid import NAMESPACE_URL, uuid4, uuid5

from django.utils import timezone

from pathways import extensions
from pathways.access import PlanAccess
from pathways.choices import (
    MUNICIPALITY_NAMES,
    ContactChannel,
    GoalStatus,
    PlanStatus,
    Sector,
    StayClass,
    StayEnd,
    StayStatus,
    TaskKind,
    TaskStatus,
)
from pathways.medcom import ACT_CODE_SYSTEM, CLASS_CODES, CPR_SYSTEM, SOR_SYSTEM
from pathways.models import (
    Goal,
    HospitalStay,
    Organisation,
    PathwayPlan,
    Patient,
    PlanParticipant,
    Task,
    User,
)

Resource = dict[str, Any]

# --- code tables --------------------------------------------------------------------------------------------
# The product's own code systems: canonical URLs that stay the same on every installation.
CODE_SYSTEM_BASE = "https://faelles-forloeb.dk/fhir/CodeSystem/"
TASK_KIND_SYSTEM = CODE_SYSTEM_BASE + "task-kind"
SECTOR_SYSTEM = CODE_SYSTEM_BASE + "sector"
CARE_TEAM_ROLE_SYSTEM = CODE_SYSTEM_BASE + "care-team-role"
PLAN_ID_SYSTEM = "urn:ietf:rfc:3986"
LOINC = "http://loinc.org"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
CONDITION_CLINICAL_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-clinical"
DISCHARGE_SYSTEM = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
PROVENANCE_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
DATA_OPERATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"

# CarePlan.status (RequestStatus, required binding).
PLAN_STATUS: Mapping[str, str] = {
    PlanStatus.DRAFT: "draft",
    PlanStatus.ACTIVE: "active",
    PlanStatus.ON_HOLD: "on-hold",
    PlanStatus.COMPLETED: "completed",
    PlanStatus.REVOKED: "revoked",
}
# CareTeam.status follows the plan: a finished plan's team is inactive.
CARE_TEAM_STATUS: Mapping[str, str] = {
    PlanStatus.DRAFT: "proposed",
    PlanStatus.ACTIVE: "active",
    PlanStatus.ON_HOLD: "suspended",
    PlanStatus.COMPLETED: "inactive",
    PlanStatus.REVOKED: "inactive",
}
# Goal.lifecycleStatus (required binding).
GOAL_STATUS: Mapping[str, str] = {
    GoalStatus.PROPOSED: "proposed",
    GoalStatus.ACTIVE: "active",
    GoalStatus.ON_HOLD: "on-hold",
    GoalStatus.COMPLETED: "completed",
    GoalStatus.CANCELLED: "cancelled",
}
# Task.status (required binding; STANDARDS.md §1.3).
TASK_STATUS: Mapping[str, str] = {
    TaskStatus.REQUESTED: "requested",
    TaskStatus.ACCEPTED: "accepted",
    TaskStatus.IN_PROGRESS: "in-progress",
    TaskStatus.ON_HOLD: "on-hold",
    TaskStatus.COMPLETED: "completed",
    TaskStatus.CANCELLED: "cancelled",
    TaskStatus.REJECTED: "rejected",
}
TASK_STATUS_FROM_FHIR: Mapping[str, str] = {code: status for status, code in TASK_STATUS.items()}
# Encounter.status (required binding).
STAY_STATUS: Mapping[str, str] = {
    StayStatus.IN_PROGRESS: "in-progress",
    StayStatus.ON_LEAVE: "onleave",
    StayStatus.FINISHED: "finished",
    StayStatus.CANCELLED: "cancelled",
}
# Encounter.hospitalization.dischargeDisposition (HL7's example codes).
STAY_END: Mapping[str, tuple[str, str]] = {
    StayEnd.DISCHARGED: ("home", "Home"),
    StayEnd.DIED: ("exp", "Expired"),
    StayEnd.TRANSFERRED: ("other-hcf", "Other healthcare facility"),
    StayEnd.CONVERTED: ("hosp", "Hospitalization"),
}
# Patient.communication and the like: the preferred way to be reached.
CONTACT_SYSTEM: Mapping[str, str] = {
    ContactChannel.DIGITAL: "email",
    ContactChannel.LETTER: "other",
    ContactChannel.PHONE: "phone",
}
CARE_TEAM_CATEGORY = ("LA28865-6", "Longitudinal care-coordination focused care team")
ROLE_COORDINATOR = "coordinator"
ROLE_SUBSTITUTE = "coordinator-substitute"
ROLE_PARTICIPANT = "participant"
CARE_TEAM_ROLES: Mapping[str, str] = {
    ROLE_COORDINATOR: "Forløbskoordinator",
    ROLE_SUBSTITUTE: "Stedfortræder for forløbskoordinator",
    ROLE_PARTICIPANT: "Deltagende organisation",
}


def coding(system: str, code: str, display: str = "") -> dict[str, str]:
    value = {"system": system, "code": code}
    if display:
        value["display"] = display
    return value


def concept(system: str, code: str, display: str = "", *, text: str = "") -> dict[str, Any]:
    value: dict[str, Any] = {"coding": [coding(system, code, display)]}
    if text:
        value["text"] = text
    return value


def instant(moment: datetime) -> str:
    """A FHIR instant/dateTime in UTC, to the second."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def day(value: date) -> str:
    return value.isoformat()


def period(start: date | datetime | None, end: date | datetime | None) -> dict[str, str] | None:
    """A FHIR Period, or None when neither end is known."""
    result = {}
    for key, value in (("start", start), ("end", end)):
        if isinstance(value, datetime):
            result[key] = instant(value)
        elif value is not None:
            result[key] = day(value)
    return result or None


def _drop_empty(value: Any) -> Any:
    """FHIR allows no empty strings, lists or objects, at any depth: leave such elements out."""
    if isinstance(value, dict):
        cleaned = {key: _drop_empty(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if item not in ("", None, [], {})}
    if isinstance(value, list):
        return [item for item in (_drop_empty(item) for item in value) if item not in ("", None, [], {})]
    return value


def derived_id(*parts: object) -> str:
    """A stable id for a resource the product has no row of its own for (a PractitionerRole is a user
    in an organisation; the CareTeam is the plan's)."""
    return str(uuid5(NAMESPACE_URL, "faelles-forloeb:" + "/".join(str(part) for part in parts)))


# --- the export -----------------------------------------------------------------------------------------


@dataclass
class PlanExport:
    """A Bundle being made: its entries in order, the references made so far (key → urn) and the
    resources by key."""

    actor: User | None
    access: PlanAccess
    entries: list[Resource] = field(default_factory=list)
    refs: dict[str, dict[str, str]] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)

    @property
    def plan(self) -> PathwayPlan:
        return self.access.plan

    @property
    def patient_ref(self) -> dict[str, str]:
        return dict(self.refs["patient"])

    @property
    def plan_ref(self) -> dict[str, str]:
        return dict(self.refs["plan"])

    def add(self, key: str, resource: Resource) -> dict[str, str]:
        """Add `resource` (with its id) unless `key` is already in; a reference to it either way, with the
        resource type (Reference.type), so a reader knows what a `urn:uuid:` points at."""
        if key not in self.refs:
            urn = f"urn:uuid:{resource['id']}"
            self.refs[key] = {"reference": urn, "type": resource["resourceType"]}
            self.resources[key] = _drop_empty(resource)
            self.entries.append({"fullUrl": urn, "resource": self.resources[key]})
        return dict(self.refs[key])

    def ref(self, key: str) -> dict[str, str] | None:
        reference = self.refs.get(key)
        return dict(reference) if reference else None

    def entry(self, key: str) -> Resource:
        """The resource added under `key` (to add to it later)."""
        return self.resources[key]

    def organization(self, organisation: Organisation) -> dict[str, str]:
        key = f"org:{organisation.pk}"
        if key in self.refs:
            return dict(self.refs[key])
        return self.add(key, organization_resource(organisation))

    def practitioner_role(self, user: User, organisation: Organisation | None) -> dict[str, str]:
        """A reference to `user` working for `organisation` (PractitionerRole), adding the Practitioner,
        the Organization and the role as needed. Without an organisation: the Practitioner."""
        practitioner = self.add(f"user:{user.pk}", practitioner_resource(user))
        if organisation is None:
            return practitioner
        key = f"role:{user.pk}:{organisation.pk}"
        if key in self.refs:
            return dict(self.refs[key])
        role: Resource = {
            "resourceType": "PractitionerRole",
            "id": derived_id("role", user.public_id, organisation.public_id),
            "active": user.is_active,
            "practitioner": practitioner,
            "organization": self.organization(organisation),
            "code": [{"text": user.title}] if user.title else [],
        }
        return self.add(key, role)

    def bundle(self) -> Resource:
        return {
            "resourceType": "Bundle",
            "id": derived_id("bundle", self.plan.public_id, self.plan.version),
            "meta": {"lastUpdated": instant(self.plan.updated_at)},
            "type": "collection",
            "timestamp": instant(timezone.now()),
            "entry": self.entries,
        }


def organization_resource(organisation: Organisation) -> Resource:
    identifiers = []
    if organisation.sor_code:
        identifiers.append({"use": "official", "system": SOR_SYSTEM, "value": organisation.sor_code})
    sector = Sector(organisation.sector)
    return {
        "resourceType": "Organization",
        "id": str(organisation.public_id),
        "identifier": identifiers,
        "active": organisation.is_active,
        "type": [concept(SECTOR_SYSTEM, sector.value, str(sector.label))],
        "name": organisation.name,
    }


def practitioner_resource(user: User) -> Resource:
    name: dict[str, Any] = {"text": user.get_full_name() or user.get_username()}
    if user.last_name:
        name["family"] = user.last_name
    if user.first_name:
        name["given"] = user.first_name.split()
    return {
        "resourceType": "Practitioner",
        "id": str(user.public_id),
        "active": user.is_active,
        "name": [name],
    }


def _patient(export: PlanExport) -> None:
    patient = export.plan.patient
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone, "use": "home"})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email, "use": "home"})
    preferred = CONTACT_SYSTEM.get(patient.preferred_contact)
    for point in telecom:
        if point["system"] == preferred:
            point["rank"] = 1
    address = _drop_empty(
        {
            "use": "home",
            "type": "postal",
            "line": [patient.address] if patient.address else [],
            "city": patient.city,
            "postalCode": patient.postal_code,
            "district": MUNICIPALITY_NAMES.get(patient.home_municipality, ""),
            "country": "DK",
        }
    )
    resource: Resource = {
        "resourceType": "Patient",
        "id": str(patient.public_id),
        "identifier": [{"use": "official", "system": CPR_SYSTEM, "value": patient.cpr}],
        "name": [
            {
                "use": "official",
                "text": patient.full_name,
                "family": patient.family_name,
                "given": patient.given_name.split(),
            }
        ],
        "telecom": telecom,
        "birthDate": day(patient.birth_date),
        "address": [address],
        "communication": [{"language": concept("urn:ietf:bcp:47", patient.language), "preferred": True}],
    }
    # The Patient first, then the practice it refers to.
    export.add("patient", resource)
    if patient.general_practice is not None:
        export.entry("patient")["generalPractitioner"] = [export.organization(patient.general_practice)]


def _conditions(export: PlanExport) -> list[dict[str, str]]:
    references = []
    for condition in export.plan.conditions.all():
        code: dict[str, Any] = {"text": condition.display}
        if condition.icd10_code:
            code["coding"] = [coding(ICD10_SYSTEM, condition.icd10_code, condition.display)]
        resource: Resource = {
            "resourceType": "Condition",
            "id": derived_id("condition", export.plan.public_id, condition.pk),
            "clinicalStatus": concept(CONDITION_CLINICAL_SYSTEM, "active"),
            "code": code,
            "subject": export.patient_ref,
        }
        references.append(export.add(f"condition:{condition.pk}", resource))
    return references


def _goals(export: PlanExport, goals: Iterable[Goal]) -> list[dict[str, str]]:
    references = []
    for goal in goals:
        resource: Resource = {
            "resourceType": "Goal",
            "id": str(goal.public_id),
            "meta": {"versionId": str(goal.version), "lastUpdated": instant(goal.updated_at)},
            "lifecycleStatus": GOAL_STATUS[goal.status],
            "description": {"text": goal.description},
            "subject": export.patient_ref,
            "target": [{"dueDate": day(goal.target_date)}] if goal.target_date else [],
            "note": [{"text": goal.expected_result}] if goal.expected_result else [],
        }
        if goal.status == GoalStatus.COMPLETED:
            resource["achievementStatus"] = concept(
                "http://terminology.hl7.org/CodeSystem/goal-achievement", "achieved", "Achieved"
            )
        references.append(export.add(f"goal:{goal.pk}", resource))
    return references


def task_resource(export: PlanExport, task: Task) -> Resource:
    kind = TaskKind(task.kind)
    owner = (
        export.practitioner_role(task.responsible_person, task.responsible_organisation)
        if task.responsible_person is not None
        else export.organization(task.responsible_organisation)
    )
    resource: Resource = {
        "resourceType": "Task",
        "id": str(task.public_id),
        "meta": {"versionId": str(task.version), "lastUpdated": instant(task.updated_at)},
        "basedOn": [export.plan_ref],
        "status": TASK_STATUS[task.status],
        "statusReason": {"text": task.hold_reason} if task.hold_reason else None,
        "intent": "plan",
        "code": concept(TASK_KIND_SYSTEM, kind.value, str(kind.label)),
        "description": task.title,
        "note": [{"text": task.description}] if task.description else [],
        "for": export.patient_ref,
        "authoredOn": instant(task.created_at),
        "lastModified": instant(max(task.updated_at, task.created_at)),
        "owner": owner,
        "executionPeriod": {"end": instant(task.completed_at)} if task.completed_at else None,
    }
    if task.goal_id is not None:
        resource["focus"] = export.ref(f"goal:{task.goal_id}")
    window = period(task.window_start, task.due_date)
    if window:
        resource["restriction"] = {"period": window}
    return resource


def _tasks(export: PlanExport, tasks: list[Task]) -> list[dict[str, str]]:
    public_ids = {task.pk: task.public_id for task in tasks}
    references = []
    for task in tasks:
        resource = task_resource(export, task)
        # A task that waits for another is part of nothing, but it is told by its input: the task it
        # waits for (its reference known before that task is added: its public id).
        if task.depends_on_id in public_ids:
            resource["input"] = [
                {
                    "type": concept(CODE_SYSTEM_BASE + "task-input", "waits-for", "Venter på"),
                    "valueReference": {
                        "reference": f"urn:uuid:{public_ids[task.depends_on_id]}",
                        "type": "Task",
                    },
                }
            ]
        references.append(export.add(f"task:{task.pk}", resource))
    return references


def _care_team(export: PlanExport, participants: list[PlanParticipant]) -> dict[str, str]:
    plan = export.plan
    members: list[Resource] = []

    def role(code: str) -> list[dict[str, Any]]:
        return [concept(CARE_TEAM_ROLE_SYSTEM, code, CARE_TEAM_ROLES[code])]

    if plan.coordinator is not None:
        members.append(
            {
                "role": role(ROLE_COORDINATOR),
                "member": export.practitioner_role(plan.coordinator, plan.coordinator_organisation),
            }
        )
    if plan.coordinator_substitute is not None:
        members.append(
            {
                "role": role(ROLE_SUBSTITUTE),
                "member": export.practitioner_role(
                    plan.coordinator_substitute, plan.coordinator_organisation
                ),
            }
        )
    for participant in participants:
        members.append(
            _drop_empty(
                {
                    "role": role(ROLE_PARTICIPANT),
                    "member": export.organization(participant.organisation),
                    "period": period(participant.added_at, None),
                }
            )
        )
    team: Resource = {
        "resourceType": "CareTeam",
        "id": derived_id("careteam", plan.public_id),
        "status": CARE_TEAM_STATUS[plan.status],
        "category": [concept(LOINC, *CARE_TEAM_CATEGORY)],
        "name": plan.title,
        "subject": export.patient_ref,
        "participant": members,
        "telecom": [{"system": "phone", "value": plan.coordinator_phone, "use": "work"}]
        if plan.coordinator_phone
        else [],
        "managingOrganization": [export.organization(plan.coordinator_organisation)]
        if plan.coordinator_organisation is not None
        else [],
    }
    return export.add("careteam", team)


def _encounters(export: PlanExport, stays: Iterable[HospitalStay]) -> None:
    for stay in stays:
        resource: Resource = {
            "resourceType": "Encounter",
            "id": str(stay.public_id),
            "status": STAY_STATUS[stay.status],
            "class": coding(ACT_CODE_SYSTEM, CLASS_CODES[StayClass(stay.stay_class)]),
            "subject": export.patient_ref,
            "period": period(stay.started_at, stay.ended_at),
            "serviceProvider": export.organization(stay.hospital),
            # MedCom carries the Danish forløbsid as the episode of care's identifier (STANDARDS.md §1.9).
            "episodeOfCare": [{"identifier": {"value": stay.episode_id}}] if stay.episode_id else [],
        }
        if stay.end_reason:
            code, display = STAY_END[stay.end_reason]
            resource["hospitalization"] = {"dischargeDisposition": concept(DISCHARGE_SYSTEM, code, display)}
        export.add(f"stay:{stay.pk}", resource)


def _provenance(export: PlanExport) -> None:
    plan = export.plan
    agent = (
        export.practitioner_role(plan.coordinator, plan.coordinator_organisation)
        if plan.coordinator is not None
        else export.organization(plan.coordinator_organisation)
        if plan.coordinator_organisation is not None
        else None
    )
    if agent is None:
        return
    export.add(
        "provenance",
        {
            "resourceType": "Provenance",
            "id": derived_id("provenance", plan.public_id, plan.version),
            "target": [export.plan_ref],
            "recorded": instant(plan.updated_at),
            "activity": concept(DATA_OPERATION_SYSTEM, "UPDATE" if plan.version > 1 else "CREATE"),
            "agent": [{"type": concept(PROVENANCE_TYPE_SYSTEM, "author", "Author"), "who": agent}],
        },
    )


def plan_bundle(*, actor: User | None, granted: PlanAccess) -> Resource:
    """The plan `granted` (from pathways.access, already logged) as a FHIR Bundle, with what the apps
    above add. The plan must come with patient__general_practice, coordinator, coordinator_substitute and
    coordinator_organisation selected (selectors.plan_for_fhir)."""
    plan = granted.plan
    export = PlanExport(actor=actor, access=granted)
    export.refs["plan"] = {"reference": f"urn:uuid:{plan.public_id}", "type": "CarePlan"}
    plan_entry: Resource = {"fullUrl": export.refs["plan"]["reference"], "resource": {}}
    export.entries.append(plan_entry)
    _patient(export)
    participants = list(plan.participants.select_related("organisation").order_by("organisation__name"))
    care_team = _care_team(export, participants)
    addresses = _conditions(export)
    goals = _goals(export, plan.goals.order_by("sort_order", "id"))
    tasks = list(
        plan.tasks.select_related("responsible_organisation", "responsible_person").order_by("due_date", "id")
    )
    activities = _tasks(export, tasks)
    _encounters(export, plan.hospital_stays.select_related("hospital").order_by("started_at", "id"))
    author = (
        export.practitioner_role(plan.coordinator, plan.coordinator_organisation)
        if plan.coordinator is not None
        else None
    )
    plan_entry["resource"] = _drop_empty(
        {
            "resourceType": "CarePlan",
            "id": str(plan.public_id),
            "meta": {"versionId": str(plan.version), "lastUpdated": instant(plan.updated_at)},
            "identifier": [{"system": PLAN_ID_SYSTEM, "value": f"urn:uuid:{plan.public_id}"}],
            "status": PLAN_STATUS[plan.status],
            "intent": "plan",
            "title": plan.title,
            "description": plan.what_matters,
            "subject": export.patient_ref,
            "period": period(plan.created_at, None),
            "created": instant(plan.created_at),
            "author": author,
            "careTeam": [care_team],
            "addresses": addresses,
            "goal": goals,
            "activity": [{"reference": reference} for reference in activities],
            "note": [{"text": f"Næste opfølgning: {day(plan.review_date)}"}] if plan.review_date else [],
        }
    )
    _provenance(export)
    for contribute in extensions.FHIR_CONTRIBUTORS:
        contribute(export)
    return export.bundle()


def search_bundle(plans: list[PathwayPlan]) -> Resource:
    """A search's answer (Bundle searchset): each plan found as a CarePlan (the whole plan is its export,
    pathways.api.PlanFhirApi) and its patient once, included."""
    entries: list[Resource] = []
    patients: dict[int, Patient] = {}
    for plan in plans:
        patient = patients.setdefault(plan.patient_id, plan.patient)
        entries.append(
            {
                "fullUrl": f"urn:uuid:{plan.public_id}",
                "resource": _drop_empty(
                    {
                        "resourceType": "CarePlan",
                        "id": str(plan.public_id),
                        "meta": {"versionId": str(plan.version), "lastUpdated": instant(plan.updated_at)},
                        "identifier": [{"system": PLAN_ID_SYSTEM, "value": f"urn:uuid:{plan.public_id}"}],
                        "status": PLAN_STATUS[plan.status],
                        "intent": "plan",
                        "title": plan.title,
                        "subject": {"reference": f"urn:uuid:{patient.public_id}", "type": "Patient"},
                        "created": instant(plan.created_at),
                    }
                ),
                "search": {"mode": "match"},
            }
        )
    for patient in patients.values():
        entries.append(
            {
                "fullUrl": f"urn:uuid:{patient.public_id}",
                "resource": {
                    "resourceType": "Patient",
                    "id": str(patient.public_id),
                    "identifier": [{"use": "official", "system": CPR_SYSTEM, "value": patient.cpr}],
                    "name": [{"use": "official", "text": patient.full_name, "family": patient.family_name}],
                    "birthDate": day(patient.birth_date),
                },
                "search": {"mode": "include"},
            }
        )
    return cast(
        Resource,
        _drop_empty(
            {
                "resourceType": "Bundle",
                "id": str(uuid4()),
                "type": "searchset",
                "timestamp": instant(timezone.now()),
                "total": len(plans),
                "entry": entries,
            }
        ),
    )
