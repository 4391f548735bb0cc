"""The coordinator's worklist line for hospital events: admissions and discharges of the last 7 days in
the plans they coordinate (pathways.stays), each linked to the event on the plan page."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from coordination import selectors
from coordination.choices import WorkItemKind
from pathways import stays
from pathways.choices import TransitionKind
from tests.conftest import sign_in


def record(world, kind, days_ago: float):
    return stays.transition_record(
        actor=world.hospital_doctor,
        patient=world.patient,
        kind=kind,
        occurred_at=timezone.now() - timedelta(days=days_ago),
        hospital=world.hospital,
    )


def hospital_lines(worklist):
    sections = [s for s in worklist.sections if s.kind == WorkItemKind.HOSPITAL]
    return sections[0].items if sections else None


def test_recent_admissions_and_discharges_are_on_the_coordinators_worklist(world):
    record(world, TransitionKind.ADMISSION, 10)  # too long ago
    record(world, TransitionKind.DISCHARGE, 9)
    admission = record(world, TransitionKind.ADMISSION, 3)
    record(world, TransitionKind.LEAVE_START, 2)  # leave is no line of its own
    discharge = record(world, TransitionKind.DISCHARGE, 1)

    lines = hospital_lines(selectors.worklist_for_coordinator(world.coordinator))

    assert [(line.title, line.detail, line.age_days) for line in lines] == [
        (str(TransitionKind.DISCHARGE.label), "Medicinsk afdeling", 1),
        (str(TransitionKind.ADMISSION.label), "Medicinsk afdeling", 3),
    ]
    assert lines[0].href.endswith(f"#stay-event-{discharge.public_id}")
    assert lines[1].href.endswith(f"#stay-event-{admission.public_id}")


def test_a_cancelled_admission_leaves_the_worklist_and_others_have_no_such_line(client, world):
    admission = record(world, TransitionKind.ADMISSION, 1)
    assert len(hospital_lines(selectors.worklist_for_coordinator(world.coordinator))) == 1

    stays.transition_cancel(actor=world.hospital_doctor, transition=admission)

    assert hospital_lines(selectors.worklist_for_coordinator(world.coordinator)) == []
    record(world, TransitionKind.ADMISSION, 0.5)
    assert hospital_lines(selectors.worklist_for_coordinator(world.home_nurse)) is None  # coordinates nothing
    sign_in(client, world.coordinator)
    page = client.get(reverse("coordination:worklist")).content.decode()
    assert f'id="{WorkItemKind.HOSPITAL}"' in page
