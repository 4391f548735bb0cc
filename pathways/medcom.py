"""MedCom HospitalNotification (FHIR R4 message Bundle): reading and checking a received message, and the
answers — MedCom's Acknowledgement and a FHIR OperationOutcome naming what is wrong. No database here.

`notice_parse(body)` returns a `Notice` or raises `NoticeRefused` with the OperationOutcome issues and
the HTTP status (FHIR's convention: 400 when the body is no JSON object or no FHIR resource at all, 422
when it is one but breaks the HospitalNotification profile or its rules). The structure is checked by
fhir.resources' R4B models; the codes, references and the message type by the checks here.

The message type (STAA … AN_MORS) is not sent as such: it follows from Provenance.activity,
Encounter.class, Encounter.status and Patient.deceased (STANDARDS.md §2.2, MedCom's
"Overview-HospitalNotification-codes-FHIR"). A combination the table does not have is refused. Death
keeps the "current activity" (a patient admitted and dead has activity admit-inpatient, status finished,
deceased true), so a message alone cannot tell a death from its correction, nor the cancellation of a
death (deceased false, the "previous status") from an ordinary message: `code_after` settles that once
the receiver knows the type of the message referred to (Provenance.entity.what).

The CPR number is read here and never written into an issue, an exception message or a log line.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast
from uuid import uuid4

import pydantic
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from fhir.resources.R4B.bundle import Bundle

from pathways.choices import MedcomCode, StayClass
from pathways.cpr import cpr_parse

EVENT_SYSTEM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-eventCodes"
HOSPITAL_NOTIFICATION_EVENT = "hospital-notification-message"
ACKNOWLEDGEMENT_EVENT = "acknowledgement-message"
ACTIVITY_SYSTEM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-activityCodes"
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
LEAVE_EXTENSION = (
    "http://medcomfhir.dk/ig/hospitalnotification/StructureDefinition/"
    "medcom-hospitalnotifiation-leave-period-extension"  # sic: MedCom's own spelling
)
SOR_ENDPOINT = "https://sor2.sum.dsdn.dk/#id="
FHIR_JSON = "application/fhir+json"

# The resources a HospitalNotification message holds; anything else is not this message.
RESOURCE_TYPES = frozenset({"MessageHeader", "Patient", "Encounter", "Organization", "Provenance"})
# No HospitalNotification nests deeper than about ten levels.
MAX_DEPTH = 32
# FHIR's id datatype; also what the received_message.message_id column holds.
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
PLAUSIBLE_PAST = timedelta(days=10 * 366)
PLAUSIBLE_AHEAD = timedelta(days=1)

CLASSES = {"EMER": StayClass.ACUTE_AMBULANT, "IMP": StayClass.INPATIENT}
CLASS_CODES = {value: code for code, value in CLASSES.items()}

_EMER, _IMP = "EMER", "IMP"
_IN_PROGRESS, _ON_LEAVE, _FINISHED = "in-progress", "onleave", "finished"
_REMOVED = frozenset({"cancelled", "entered-in-error"})

# Provenance.activity → (the message type, Encounter.class, the Encounter.status values it goes with).
ACTIVITIES: dict[str, tuple[str, str, frozenset[str]]] = {
    "admit-emergency": (MedcomCode.STAA, _EMER, frozenset({_IN_PROGRESS})),
    "revise-admit-emergency": (MedcomCode.RE_STAA, _EMER, frozenset({_IN_PROGRESS})),
    "cancel-admit-emergency": (MedcomCode.AN_STAA, _EMER, _REMOVED),
    "admit-inpatient": (MedcomCode.STIN, _IMP, frozenset({_IN_PROGRESS})),
    "revise-admit-inpatient": (MedcomCode.RE_STIN, _IMP, frozenset({_IN_PROGRESS})),
    "cancel-admit-inpatient": (MedcomCode.AN_STIN, _IMP, _REMOVED),
    "start-leave-inpatient": (MedcomCode.STOR, _IMP, frozenset({_ON_LEAVE})),
    "revise-start-leave-inpatient": (MedcomCode.RE_STOR, _IMP, frozenset({_ON_LEAVE})),
    "cancel-start-leave-inpatient": (MedcomCode.AN_STOR, _IMP, frozenset({_IN_PROGRESS})),
    "end-leave-inpatient": (MedcomCode.SLOR, _IMP, frozenset({_IN_PROGRESS})),
    "revise-end-leave-inpatient": (MedcomCode.RE_SLOR, _IMP, frozenset({_IN_PROGRESS})),
    "cancel-end-leave-inpatient": (MedcomCode.AN_SLOR, _IMP, frozenset({_ON_LEAVE})),
    "discharge-emergency-home": (MedcomCode.SLHJ, _EMER, frozenset({_FINISHED})),
    "discharge-inpatient-home": (MedcomCode.SLHJ, _IMP, frozenset({_FINISHED})),
    "revise-discharge-emergency-home": (MedcomCode.RE_SLHJ, _EMER, frozenset({_FINISHED})),
    "revise-discharge-inpatient-home": (MedcomCode.RE_SLHJ, _IMP, frozenset({_FINISHED})),
    "cancel-discharge-emergency-home": (MedcomCode.AN_SLHJ, _EMER, frozenset({_IN_PROGRESS})),
    "cancel-discharge-inpatient-home": (MedcomCode.AN_SLHJ, _IMP, frozenset({_IN_PROGRESS})),
}
DEATHS = frozenset({MedcomCode.MORS, MedcomCode.RE_MORS})
STARTS = frozenset({MedcomCode.STAA, MedcomCode.STIN})

# fhir.resources builds a resource's models when its module is first imported (≈ 0.3 s): here, as the
# server starts, rather than while the first message waits.
for _resource in ("messageheader", "patient", "encounter", "organization", "provenance"):
    importlib.import_module(f"fhir.resources.R4B.{_resource}")

# Anything that looks like a CPR number is masked in an issue's text, whatever produced the text.
_CPR_LIKE = re.compile(r"[0-9]{6}-?[0-9]{4}")


def base_code(code: str) -> str:
    """STIN for STIN, RE_STIN and AN_STIN."""
    return code.removeprefix("RE_").removeprefix("AN_")


def is_correction(code: str) -> bool:
    return code.startswith("RE_")


def is_cancellation(code: str) -> bool:
    return code.startswith("AN_")


# --- Issues and refusals ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue: severity, FHIR issue type (structure, required, value, invalid,
    code-invalid, not-supported, too-long, login, forbidden, …), a text for the sender's developers and
    where in the message (a FHIRPath such as `Bundle.entry[2].resource.status`)."""

    code: str
    diagnostics: str
    expression: str = ""
    severity: str = "error"


class NoticeRefused(Exception):
    """The message is not accepted: the HTTP status and what is wrong. Never carries the CPR number."""

    def __init__(self, status: int, issues: Iterable[Issue]) -> None:
        self.status = status
        self.issues = list(issues)
        super().__init__("; ".join(f"{issue.code}: {issue.expression}" for issue in self.issues))


def _refuse(code: str, diagnostics: str, expression: str = "", *, status: int = 422) -> NoticeRefused:
    return NoticeRefused(status, [Issue(code=code, diagnostics=diagnostics, expression=expression)])


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    """A FHIR OperationOutcome naming each issue."""
    rendered = []
    for issue in issues:
        item: dict[str, Any] = {
            "severity": issue.severity,
            "code": issue.code,
            "diagnostics": _CPR_LIKE.sub("…", issue.diagnostics),
        }
        if issue.expression:
            item["expression"] = [issue.expression]
        rendered.append(item)
    return {"resourceType": "OperationOutcome", "issue": rendered}


# --- The notice ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """What a HospitalNotification says, read and checked. `refers_to` is the message id
    (MessageHeader.id) of the earlier message this one follows, corrects or cancels."""

    code: str
    activity: str
    event_at: datetime
    message_id: str
    sender_sor: str
    receiver_sor: str
    cpr: str = field(repr=False)
    name: str = field(repr=False)
    birth_date: date = field(repr=False)
    deceased: bool | None
    stay_class: str
    encounter_status: str
    encounter_id: str
    episode_id: str
    refers_to: str
    recorded_at: datetime
    admitted_at: datetime
    leave_start: datetime | None = None
    leave_end: datetime | None = None


def code_after(notice: Notice, referred_code: str | None) -> Notice:
    """The notice with its final message type once the type of the message it refers to is known: a death
    after a death is its correction (RE_MORS); "not deceased" after a death cancels it (AN_MORS)."""
    if referred_code not in DEATHS:
        return notice
    if notice.code == MedcomCode.MORS:
        return replace(notice, code=MedcomCode.RE_MORS)
    if notice.deceased is False and not (is_correction(notice.code) or is_cancellation(notice.code)):
        return replace(notice, code=MedcomCode.AN_MORS, event_at=notice.recorded_at)
    return notice


# --- Reading ---------------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> None:
    raise ValueError(name)


def _text_problem(value: object) -> str | None:
    """Why a parsed body cannot be kept as text: nested too deeply, or a string holding NUL or a lone
    surrogate (valid JSON escapes, but no text PostgreSQL stores). Iterative, like config.parsers."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return _("The message holds a NUL character.")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return _("The message holds text that is not valid Unicode.")
        elif isinstance(item, Mapping | list):
            if depth > MAX_DEPTH:
                return _("The message is nested too deeply.")
            if isinstance(item, Mapping):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)
    return None


def body_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or NoticeRefused (400)."""
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise _refuse("structure", _("The body is not valid UTF-8."), status=400) from None
    except RecursionError:
        raise _refuse("structure", _("The message is nested too deeply."), status=400) from None
    except ValueError:
        raise _refuse("structure", _("The body is not valid JSON."), status=400) from None
    if not isinstance(data, dict):
        raise _refuse("structure", _("The body is not a JSON object."), status=400)
    problem = _text_problem(data)
    if problem is not None:
        raise _refuse("structure", problem, status=400)
    if not isinstance(data.get("resourceType"), str):
        raise _refuse("structure", _("The body is no FHIR resource: it has no resourceType."), "", status=400)
    return data


def _path(loc: Iterable[Any]) -> str:
    path = "Bundle"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


_PYDANTIC_CODES = {
    "missing": "required",
    "model_field_validation.missing": "required",
    "extra_forbidden": "structure",
}


def _check_structure(data: dict[str, Any]) -> None:
    """The Bundle and its resources against the FHIR R4 models (required elements, data types)."""
    if data["resourceType"] != "Bundle":
        raise _refuse("not-supported", _("The message must be a Bundle."), "Bundle.resourceType")
    entries = data.get("entry")
    if not isinstance(entries, list) or not entries:
        raise _refuse("required", _("The Bundle has no entries."), "Bundle.entry")
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if kind not in RESOURCE_TYPES:
            raise _refuse(
                "not-supported",
                _("A HospitalNotification holds only MessageHeader, Patient, Encounter, Organization and "
                  "Provenance resources."),
                f"Bundle.entry[{index}].resource.resourceType",
            )  # fmt: skip
    try:
        Bundle.model_validate(data)
    except pydantic.ValidationError as error:
        raise NoticeRefused(
            422,
            [
                Issue(
                    code=_PYDANTIC_CODES.get(problem["type"], "value"),
                    diagnostics=str(problem["msg"]),
                    expression=_path(problem["loc"]),
                )
                for problem in error.errors()[:20]
            ],
        ) from None
    except (KeyError, TypeError, ValueError):
        raise _refuse("structure", _("The Bundle is not a valid FHIR R4 Bundle."), "Bundle") from None


class _Message:
    """The Bundle's entries, found by reference (fullUrl, or `Type/id` at the end of a reference)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.entries: list[dict[str, Any]] = data["entry"]
        self.by_url: dict[str, int] = {}
        self.by_id: dict[str, int] = {}
        for index, entry in enumerate(self.entries):
            resource = entry["resource"]
            url = entry.get("fullUrl")
            if not isinstance(url, str) or not url:
                raise _refuse("required", _("Every entry needs a fullUrl."), f"Bundle.entry[{index}].fullUrl")
            self.by_url[url] = index
            if isinstance(resource.get("id"), str):
                self.by_id[f"{resource['resourceType']}/{resource['id']}"] = index

    def resource(self, index: int) -> dict[str, Any]:
        return cast(dict[str, Any], self.entries[index]["resource"])

    def of_type(self, kind: str) -> list[int]:
        return [i for i, entry in enumerate(self.entries) if entry["resource"]["resourceType"] == kind]

    def resolve(self, reference: Any, kind: str, expression: str) -> int:
        """The entry a reference points at, which must be a `kind`; NoticeRefused otherwise."""
        target = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(target, str) or not target:
            raise _refuse("required", _("A reference is missing."), expression)
        index = self.by_url.get(target)
        if index is None:
            tail = "/".join(target.rstrip("/").split("/")[-2:])
            index = self.by_id.get(tail)
        if index is None:
            raise _refuse("invalid", _("The reference points at no entry of the Bundle."), expression)
        if self.entries[index]["resource"]["resourceType"] != kind:
            raise _refuse("invalid", _("The reference points at the wrong kind of resource."), expression)
        return index

    def only(self, kind: str) -> int:
        found = self.of_type(kind)
        if len(found) != 1:
            raise _refuse(
                "required" if not found else "structure",
                _("The message must hold exactly one %(kind)s.") % {"kind": kind},
                "Bundle.entry",
            )
        return found[0]


def _sor(message: _Message, index: int) -> str:
    resource = message.resource(index)
    for position, identifier in enumerate(resource.get("identifier") or []):
        if identifier.get("system") == SOR_SYSTEM:
            value = identifier.get("value")
            if not isinstance(value, str) or not re.fullmatch(r"[0-9]{1,20}", value):
                raise _refuse(
                    "value",
                    _("A SOR code is digits only."),
                    f"Bundle.entry[{index}].resource.identifier[{position}].value",
                )
            return value
    raise _refuse(
        "required", _("The organisation has no SOR identifier."), f"Bundle.entry[{index}].resource.identifier"
    )


def _moment(value: Any, expression: str, *, required: bool = True) -> datetime | None:
    """A FHIR dateTime with time and zone (an event time must say when, not only which day)."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise _refuse("required", _("A time is missing."), expression)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in value:
        raise _refuse("value", _("A time must have a date, a time of day and a time zone."), expression)
    # A hospital notice is about now: a clock a day fast, or a stay begun years ago, but not year 1 or 9999
    # (which the database and the lists would carry for ever).
    try:
        plausible = (
            timezone.now() - PLAUSIBLE_PAST <= moment.astimezone(UTC) <= timezone.now() + PLAUSIBLE_AHEAD
        )
    except OverflowError:
        plausible = False
    if not plausible:
        raise _refuse("value", _("The time is too far in the past or the future to be true."), expression)
    return moment


def _coding_code(concept: Any, system: str, expression: str) -> str:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    for coding in codings or []:
        if coding.get("system") == system and isinstance(coding.get("code"), str):
            return cast(str, coding["code"])
    raise _refuse("required", _("A code from %(system)s is missing.") % {"system": system}, expression)


def _header(message: _Message) -> tuple[int, dict[str, Any]]:
    first = message.resource(0)
    if first["resourceType"] != "MessageHeader":
        raise _refuse(
            "structure", _("The first entry of a message is its MessageHeader."), "Bundle.entry[0].resource"
        )
    if len(message.of_type("MessageHeader")) != 1:
        raise _refuse("structure", _("The message must hold exactly one MessageHeader."), "Bundle.entry")
    coding = first.get("eventCoding") or {}
    where = "Bundle.entry[0].resource.eventCoding"
    if coding.get("system") != EVENT_SYSTEM or coding.get("code") != HOSPITAL_NOTIFICATION_EVENT:
        raise _refuse(
            "code-invalid", _("This address takes HospitalNotification messages only."), f"{where}.code"
        )
    if not isinstance(first.get("id"), str):
        raise _refuse("required", _("The MessageHeader has no id."), "Bundle.entry[0].resource.id")
    if not FHIR_ID.fullmatch(first["id"]):
        raise _refuse(
            "value",
            _("A FHIR id has 1 to 64 letters, digits, '-' and '.'."),
            "Bundle.entry[0].resource.id",
        )
    return 0, first


def _receiver(message: _Message, header: dict[str, Any]) -> int:
    destinations = header.get("destination") or []
    if not destinations:
        raise _refuse("required", _("The message has no receiver."), "Bundle.entry[0].resource.destination")
    chosen = 0
    for position, destination in enumerate(destinations):
        uses = [
            (extension.get("valueCoding") or {}).get("code")
            for extension in destination.get("extension") or []
        ]
        if "primary" in uses:
            chosen = position
            break
    return message.resolve(
        destinations[chosen].get("receiver"),
        "Organization",
        f"Bundle.entry[0].resource.destination[{chosen}].receiver",
    )


def _own_provenance(message: _Message, header_index: int, header: dict[str, Any]) -> int:
    """The Provenance of this message (its target is this MessageHeader); the others are its history."""
    own = []
    names = {message.entries[header_index]["fullUrl"], f"MessageHeader/{header['id']}"}
    for index in message.of_type("Provenance"):
        for target in message.resource(index).get("target") or []:
            reference = target.get("reference", "")
            if reference in names or reference.endswith(f"/MessageHeader/{header['id']}"):
                own.append(index)
                break
    if len(own) != 1:
        raise _refuse(
            "required" if not own else "structure",
            _("The message must hold one Provenance whose target is its MessageHeader."),
            "Bundle.entry",
        )
    return own[0]


def _patient(message: _Message, index: int) -> tuple[str, str, date, bool | None]:
    resource = message.resource(index)
    where = f"Bundle.entry[{index}].resource"
    cpr = ""
    for position, identifier in enumerate(resource.get("identifier") or []):
        if identifier.get("system") == CPR_SYSTEM:
            cpr = identifier.get("value") or ""
            where_cpr = f"{where}.identifier[{position}].value"
            break
    else:
        raise _refuse("required", _("The patient has no CPR number."), f"{where}.identifier")
    if not re.fullmatch(r"[0-9]{10}", cpr):
        raise _refuse("value", _("A CPR number is ten digits."), where_cpr)
    try:
        parsed = cpr_parse(cpr)
    except ValidationError as error:
        raise _refuse("value", " ".join(error.messages), where_cpr) from None
    names = resource.get("name") or []
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else None)
    name = ""
    if official is not None:
        name = " ".join([*(official.get("given") or []), official.get("family") or ""]).strip()
    if not name:
        raise _refuse("required", _("The patient has no name."), f"{where}.name")
    deceased: bool | None = None
    if "deceasedBoolean" in resource:
        deceased = bool(resource["deceasedBoolean"])
    elif "deceasedDateTime" in resource:
        deceased = True
    return parsed.number, name[:200], parsed.birth_date, deceased


def _leave(encounter: dict[str, Any], where: str) -> tuple[datetime | None, datetime | None]:
    for position, extension in enumerate(encounter.get("extension") or []):
        url = extension.get("url", "")
        if url == LEAVE_EXTENSION or url.endswith("leave-period-extension"):
            period = extension.get("valuePeriod") or {}
            at = f"{where}.extension[{position}].valuePeriod"
            return (
                _moment(period.get("start"), f"{at}.start", required=False),
                _moment(period.get("end"), f"{at}.end", required=False),
            )
    return None, None


def _short(value: Any, expression: str, *, required: bool = True, limit: int = 100) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise _refuse("required", _("A value is missing."), expression)
    if len(value) > limit:
        raise _refuse("value", _("The value is too long."), expression)
    return value


def _referred_message(provenance: dict[str, Any], where: str) -> str:
    """The message id (MessageHeader.id) in Provenance.entity.what: the message this one follows,
    corrects or cancels ("" if there is none)."""
    for position, entity in enumerate(provenance.get("entity") or []):
        reference = (entity.get("what") or {}).get("reference")
        if isinstance(reference, str) and reference:
            return _short(reference.rstrip("/").split("/")[-1], f"{where}.entity[{position}].what.reference")
    return ""


def _message_type(
    activity: str, class_code: str, status: str, deceased: bool | None, where: dict[str, str]
) -> str:
    """The message type from the table in STANDARDS.md §2.2; NoticeRefused for a combination it has
    not."""
    if activity not in ACTIVITIES:
        raise _refuse(
            "code-invalid", _("The activity is not a HospitalNotification activity."), where["activity"]
        )
    code, activity_class, statuses = ACTIVITIES[activity]
    if class_code not in CLASSES:
        raise _refuse("code-invalid", _("Encounter.class must be EMER or IMP."), where["class"])
    if class_code != activity_class:
        raise _refuse("invalid", _("Encounter.class does not go with the activity."), where["class"])
    if deceased:
        # Death keeps the current activity; a cancellation cannot report one.
        if is_cancellation(code) or status != _FINISHED:
            raise _refuse(
                "invalid",
                _("A death is reported with Encounter.status finished and an activity that is no "
                  "cancellation."),
                where["status"],
            )  # fmt: skip
        return MedcomCode.MORS
    if status not in statuses:
        raise _refuse("invalid", _("Encounter.status does not go with the activity."), where["status"])
    return code


def _event_at(
    code: str,
    *,
    period: dict[str, Any],
    leave: tuple[datetime | None, datetime | None],
    fallback: datetime,
    where: str,
) -> datetime:
    """When it happened: the stay's start or end, the leave's start or end; else when it was recorded."""
    base = base_code(code)
    if is_cancellation(code):
        return fallback
    if base in STARTS:
        return _moment(period.get("start"), f"{where}.period.start") or fallback
    if base == MedcomCode.STOR:
        if leave[0] is None:
            raise _refuse("required", _("A leave needs its start."), f"{where}.extension")
        return leave[0]
    if base == MedcomCode.SLOR:
        if leave[1] is None:
            raise _refuse("required", _("The end of a leave needs its end."), f"{where}.extension")
        return leave[1]
    return _moment(period.get("end"), f"{where}.period.end", required=False) or fallback


def notice_parse(body: bytes) -> Notice:
    """Read and check a received HospitalNotification; NoticeRefused (400 or 422) if it is not one."""
    data = body_json(body)
    _check_structure(data)
    if data.get("type") != "message":
        raise _refuse("value", _("Bundle.type must be message."), "Bundle.type")
    message = _Message(data)
    header_index, header = _header(message)
    sender = message.resolve(header.get("sender"), "Organization", "Bundle.entry[0].resource.sender")
    receiver = _receiver(message, header)
    provenance_index = _own_provenance(message, header_index, header)
    provenance = message.resource(provenance_index)
    at_provenance = f"Bundle.entry[{provenance_index}].resource"
    activity = _coding_code(provenance.get("activity"), ACTIVITY_SYSTEM, f"{at_provenance}.activity")
    encounter_index = message.only("Encounter")
    encounter = message.resource(encounter_index)
    at_encounter = f"Bundle.entry[{encounter_index}].resource"
    patient_index = (
        message.resolve(encounter["subject"], "Patient", f"{at_encounter}.subject")
        if encounter.get("subject")
        else message.only("Patient")
    )
    cpr, name, birth_date, deceased = _patient(message, patient_index)
    class_code = (encounter.get("class") or {}).get("code", "")
    status = encounter.get("status", "")
    code = _message_type(
        activity,
        class_code,
        status,
        deceased,
        {
            "activity": f"{at_provenance}.activity",
            "class": f"{at_encounter}.class.code",
            "status": f"{at_encounter}.status",
        },
    )
    episodes = encounter.get("episodeOfCare") or [{}]
    episode_id = _short(
        (episodes[0].get("identifier") or {}).get("value"),
        f"{at_encounter}.episodeOfCare[0].identifier.value",
    )
    refers_to = _referred_message(provenance, at_provenance)
    if (is_correction(code) or is_cancellation(code)) and not refers_to:
        raise _refuse(
            "required",
            _("A correction or cancellation names the message it replaces in Provenance.entity.what."),
            f"{at_provenance}.entity",
        )
    recorded = _moment(
        provenance.get("occurredDateTime") or provenance.get("recorded"), f"{at_provenance}.recorded"
    )
    assert recorded is not None
    leave = _leave(encounter, at_encounter)
    period = encounter.get("period") or {}
    admitted_at = _moment(period.get("start"), f"{at_encounter}.period.start")
    assert admitted_at is not None
    event_at = _event_at(code, period=period, leave=leave, fallback=recorded, where=at_encounter)
    return Notice(
        code=code,
        activity=activity,
        event_at=event_at,
        message_id=header["id"],
        sender_sor=_sor(message, sender),
        receiver_sor=_sor(message, receiver),
        cpr=cpr,
        name=name,
        birth_date=birth_date,
        deceased=deceased,
        stay_class=CLASSES[class_code],
        encounter_status=status,
        encounter_id=_short(encounter.get("id"), f"{at_encounter}.id", required=False),
        episode_id=episode_id,
        refers_to=refers_to,
        recorded_at=recorded,
        admitted_at=admitted_at,
        leave_start=leave[0],
        leave_end=leave[1],
    )


# --- Answers ---------------------------------------------------------------------------------------------


def _organisation(reference: str, sor: str) -> dict[str, Any]:
    return {
        "fullUrl": reference,
        "resource": {
            "resourceType": "Organization",
            "id": reference.removeprefix("urn:uuid:"),
            "identifier": [{"system": SOR_SYSTEM, "value": sor}],
        },
    }


class Received(Protocol):
    """What an acknowledgement answers: any received MedCom message (a Notice, a CareCommunication)."""

    @property
    def message_id(self) -> str: ...
    @property
    def sender_sor(self) -> str: ...
    @property
    def receiver_sor(self) -> str: ...


def acknowledgement(
    notice: Received, outcome: str = "ok", issues: Iterable[Issue] = (), *, now: datetime | None = None
) -> dict[str, Any]:
    """MedCom's Acknowledgement message for a received message: a message Bundle whose MessageHeader
    (event acknowledgement-message) answers the received message id with ok, transient-error or
    fatal-error, from the receiver back to the sender, with its Provenance; issues (for an error) as an
    OperationOutcome in response.details."""
    moment = (now or timezone.now()).isoformat()
    header, ours, theirs, provenance = (f"urn:uuid:{uuid4()}" for _n in range(4))
    response: dict[str, Any] = {"identifier": notice.message_id, "code": outcome}
    entries: list[dict[str, Any]] = []
    issues = list(issues)
    if issues:
        details = f"urn:uuid:{uuid4()}"
        response["details"] = {"reference": details}
        outcome_resource = operation_outcome(issues) | {"id": details.removeprefix("urn:uuid:")}
        entries.append({"fullUrl": details, "resource": outcome_resource})
    message_header = {
        "resourceType": "MessageHeader",
        "id": header.removeprefix("urn:uuid:"),
        "eventCoding": {"system": EVENT_SYSTEM, "code": ACKNOWLEDGEMENT_EVENT},
        "destination": [
            {"endpoint": f"{SOR_ENDPOINT}{notice.sender_sor}", "receiver": {"reference": theirs}}
        ],
        "sender": {"reference": ours},
        "source": {"endpoint": f"{SOR_ENDPOINT}{notice.receiver_sor}"},
        "response": response,
    }
    provenance_resource = {
        "resourceType": "Provenance",
        "id": provenance.removeprefix("urn:uuid:"),
        "target": [{"reference": header}],
        "occurredDateTime": moment,
        "recorded": moment,
        "activity": {"coding": [{"system": ACTIVITY_SYSTEM, "code": "acknowledgement"}]},
        "agent": [{"who": {"reference": ours}}],
        "entity": [{"role": "source", "what": {"reference": f"MessageHeader/{notice.message_id}"}}],
    }
    return {
        "resourceType": "Bundle",
        "id": str(uuid4()),
        "type": "message",
        "timestamp": moment,
        "entry": [
            {"fullUrl": header, "resource": message_header},
            _organisation(ours, notice.receiver_sor),
            _organisation(theirs, notice.sender_sor),
            {"fullUrl": provenance, "resource": provenance_resource},
            *entries,
        ],
    }


# --- Writing (the demo's example messages, the benchmark and the tests) --------------------------------

# What a message type says, as the sending hospital writes it: Provenance.activity (None: the "current
# activity", given by the sender) and Encounter.status (None: the "previous status").
_WRITTEN: dict[str, tuple[str | None, str | None]] = {
    MedcomCode.STAA: ("admit-emergency", _IN_PROGRESS),
    MedcomCode.RE_STAA: ("revise-admit-emergency", _IN_PROGRESS),
    MedcomCode.AN_STAA: ("cancel-admit-emergency", "entered-in-error"),
    MedcomCode.STIN: ("admit-inpatient", _IN_PROGRESS),
    MedcomCode.RE_STIN: ("revise-admit-inpatient", _IN_PROGRESS),
    MedcomCode.AN_STIN: ("cancel-admit-inpatient", "entered-in-error"),
    MedcomCode.STOR: ("start-leave-inpatient", _ON_LEAVE),
    MedcomCode.RE_STOR: ("revise-start-leave-inpatient", _ON_LEAVE),
    MedcomCode.AN_STOR: ("cancel-start-leave-inpatient", _IN_PROGRESS),
    MedcomCode.SLOR: ("end-leave-inpatient", _IN_PROGRESS),
    MedcomCode.RE_SLOR: ("revise-end-leave-inpatient", _IN_PROGRESS),
    MedcomCode.AN_SLOR: ("cancel-end-leave-inpatient", _ON_LEAVE),
    MedcomCode.SLHJ: ("discharge-{class}-home", _FINISHED),
    MedcomCode.RE_SLHJ: ("revise-discharge-{class}-home", _FINISHED),
    MedcomCode.AN_SLHJ: ("cancel-discharge-{class}-home", _IN_PROGRESS),
    MedcomCode.MORS: (None, _FINISHED),
    MedcomCode.RE_MORS: (None, _FINISHED),
    MedcomCode.AN_MORS: (None, None),
}


def _when(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def notification_bundle(
    *,
    code: str,
    message_id: str,
    sender: tuple[str, str],
    receiver: tuple[str, str],
    cpr: str,
    given_name: str,
    family_name: str,
    episode_id: str,
    admitted_at: datetime | str,
    sent_at: datetime | str,
    stay_class: str = StayClass.INPATIENT,
    ended_at: datetime | str | None = None,
    leave: tuple[datetime | str | None, datetime | str | None] | None = None,
    refers_to: str = "",
    activity: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """A HospitalNotification message as a hospital sends it: `sender` and `receiver` are (SOR code,
    name); times are datetimes or placeholders kept as written (the example files). For MORS, RE_MORS
    and AN_MORS give the "current activity" (default: the admission) and for AN_MORS the "previous
    status" (default: in-progress)."""
    class_code = CLASS_CODES[StayClass(stay_class)]
    written_activity, written_status = _WRITTEN[code]
    kind = "emergency" if class_code == _EMER else "inpatient"
    activity = activity or (written_activity or f"admit-{kind}").replace("{class}", kind)
    status = status or written_status or _IN_PROGRESS
    header_id, patient_id, encounter_id, provenance_id = (
        message_id,
        *(f"{message_id[:24]}-{part}" for part in ("patient", "encounter", "provenance")),
    )
    sender_id, receiver_id = f"{message_id[:24]}-sender", f"{message_id[:24]}-receiver"

    def url(kind: str, resource_id: str) -> str:
        return f"https://medcomfhir.dk/ig/hospitalnotification/{kind}/{resource_id}"

    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient_id,
        "identifier": [{"system": CPR_SYSTEM, "value": cpr}],
        "name": [{"use": "official", "family": family_name, "given": [given_name]}],
    }
    if code in DEATHS:
        patient["deceasedBoolean"] = True
    elif code == MedcomCode.AN_MORS:
        patient["deceasedBoolean"] = False
    period = {"start": _when(admitted_at)}
    if ended_at is not None:
        period["end"] = _when(ended_at)
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": encounter_id,
        "status": status,
        "class": {"system": ACT_CODE_SYSTEM, "code": class_code},
        "subject": {"reference": f"Patient/{patient_id}"},
        "episodeOfCare": [{"identifier": {"system": f"{SOR_ENDPOINT}{sender[0]}", "value": episode_id}}],
        "period": period,
        "serviceProvider": {"reference": f"Organization/{sender_id}"},
    }
    if leave is not None:
        leave_period = {"start": _when(leave[0])}
        if leave[1] is not None:
            leave_period["end"] = _when(leave[1])
        encounter["extension"] = [{"url": LEAVE_EXTENSION, "valuePeriod": leave_period}]
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": provenance_id,
        "target": [{"reference": f"MessageHeader/{header_id}"}],
        "occurredDateTime": _when(sent_at),
        "recorded": _when(sent_at),
        "activity": {"coding": [{"system": ACTIVITY_SYSTEM, "code": activity}]},
        "agent": [{"who": {"reference": f"Organization/{sender_id}"}}],
    }
    if refers_to:
        role = "removal" if is_cancellation(code) else "revision"
        provenance["entity"] = [{"role": role, "what": {"reference": f"MessageHeader/{refers_to}"}}]

    def organisation(resource_id: str, sor_and_name: tuple[str, str]) -> dict[str, Any]:
        return {
            "resourceType": "Organization",
            "id": resource_id,
            "identifier": [{"system": SOR_SYSTEM, "value": sor_and_name[0]}],
            "name": sor_and_name[1],
        }

    header = {
        "resourceType": "MessageHeader",
        "id": header_id,
        "eventCoding": {"system": EVENT_SYSTEM, "code": HOSPITAL_NOTIFICATION_EVENT},
        "destination": [
            {
                "extension": [
                    {
                        "url": "http://medcomfhir.dk/ig/messaging/StructureDefinition/"
                        "medcom-messaging-destinationUseExtension",
                        "valueCoding": {
                            "system": "http://medcomfhir.dk/ig/terminology/CodeSystem/"
                            "medcom-messaging-destinationUse",
                            "code": "primary",
                        },
                    }
                ],
                "endpoint": f"{SOR_ENDPOINT}{receiver[0]}",
                "receiver": {"reference": f"Organization/{receiver_id}"},
            }
        ],
        "sender": {"reference": f"Organization/{sender_id}"},
        "source": {"endpoint": f"{SOR_ENDPOINT}{sender[0]}"},
        "focus": [{"reference": f"Encounter/{encounter_id}"}],
    }
    resources = [
        ("MessageHeader", header),
        ("Patient", patient),
        ("Encounter", encounter),
        ("Organization", organisation(sender_id, sender)),
        ("Organization", organisation(receiver_id, receiver)),
        ("Provenance", provenance),
    ]
    return {
        "resourceType": "Bundle",
        "id": f"{message_id[:24]}-bundle",
        "type": "message",
        "timestamp": _when(sent_at),
        "entry": [{"fullUrl": url(kind, str(r["id"])), "resource": r} for kind, r in resources],
    }


# The example messages of the demo (`manage.py medcom_send <name>`, pathways.demo): JSON files written as
# a hospital sends them, with times as placeholders — "$now", "$now-3h", "$now+30m", "$now-2d" — filled in
# when a message is sent, so the demo always happens now.
EXAMPLES_DIR = Path(__file__).resolve().parent / "medcom_examples"
_PLACEHOLDER = re.compile(r"^\$now(?:(?P<sign>[+-])(?P<amount>[0-9]+)(?P<unit>[mhd]))?$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def example_names() -> list[str]:
    return sorted(path.stem for path in EXAMPLES_DIR.glob("*.json"))


def _filled(value: Any, now: datetime) -> Any:
    if isinstance(value, dict):
        return {key: _filled(item, now) for key, item in value.items()}
    if isinstance(value, list):
        return [_filled(item, now) for item in value]
    if isinstance(value, str) and (match := _PLACEHOLDER.match(value)):
        moment = now
        if match["sign"]:
            offset = timedelta(**{_UNITS[match["unit"]]: int(match["amount"])})
            moment = now + offset if match["sign"] == "+" else now - offset
        return timezone.localtime(moment).replace(microsecond=0).isoformat()
    return value


def example_message(name: str, *, now: datetime | None = None, message_id: str = "") -> dict[str, Any]:
    """The example message `name` with its times filled in (relative to `now`); `message_id` sends it as
    a new message (its MessageHeader.id replaced) instead of a repeat of the example."""
    if name not in example_names():
        raise KeyError(name)
    text = (EXAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8")
    if message_id:
        original = json.loads(text)["entry"][0]["resource"]["id"]
        text = text.replace(original, message_id)
    return cast(dict[str, Any], _filled(json.loads(text), now or timezone.now()))
