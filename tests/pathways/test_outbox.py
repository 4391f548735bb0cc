"""The outbox: one row per message, written with the change that causes it, delivered once at the right
local time through the recipient's channel, and never carrying health data out of the product."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from pathways import outbox, services
from pathways.choices import (
    ContactChannel,
    NotificationChannel,
    NotificationKind,
    NotificationState,
    PlanStatus,
    TaskKind,
    TaskStatus,
)
from pathways.models import Notification, Task


@pytest.fixture(autouse=True)
def _empty_outbox(world):
    """The world's own setting-up (activating the plan) wrote messages; each test starts without them."""
    Notification.objects.all().delete()


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _rows(**filters):
    return list(Notification.objects.filter(**filters).order_by("pk"))


def _appointment(world, day: date, **extra) -> Task:
    return services.task_create(
        actor=world.coordinator,
        plan=world.plan,
        title="Kontrol i lungeambulatoriet",
        responsible_organisation=world.hospital,
        kind=TaskKind.APPOINTMENT,
        window_start=day,
        due_date=day,
        **extra,
    )


def _notice(world, *, recipient=None, channel=NotificationChannel.IN_APP, due_at=None, event="x", kind=None):
    """One message in the outbox about the world's plan (to the coordinator, in the product, due now)."""
    return outbox.notify(
        recipient=recipient or world.coordinator,
        kind=kind or NotificationKind.TASK_ASSIGNED,
        channel=channel,
        plan=world.plan,
        due_at=due_at or timezone.now(),
        event=event,
    )


def test_the_same_event_raised_twice_gives_one_row(world):
    due = timezone.now()
    for _ in range(2):
        _notice(world, recipient=world.home_nurse, due_at=due, event="v2")
    assert Notification.objects.count() == 1


def test_assigning_a_task_to_a_person_tells_them_in_the_product_and_by_email(world):
    world.home_nurse.email = "mette@example.invalid"
    world.home_nurse.save()
    task = world.plan.tasks.get()
    services.task_update(
        actor=world.coordinator,
        task=task,
        expected_version=task.version,
        title=task.title,
        kind=task.kind,
        responsible_organisation=task.responsible_organisation,
        responsible_person=world.home_nurse,
        window_start=None,
        due_date=None,
        description="",
        goal=None,
        depends_on=None,
        visible_to_patient=True,
    )
    rows = _rows(kind=NotificationKind.TASK_ASSIGNED)
    assert {(r.recipient, r.channel) for r in rows} == {
        (world.home_nurse, NotificationChannel.IN_APP),
        (world.home_nurse, NotificationChannel.EMAIL),
    }


def test_taking_a_task_yourself_sends_yourself_nothing(world):
    services.task_create(
        actor=world.home_nurse,
        plan=world.plan,
        title="Sårpleje",
        responsible_organisation=world.municipality,
        responsible_person=world.home_nurse,
    )
    assert _rows(kind=NotificationKind.TASK_ASSIGNED) == []


def test_two_working_days_skip_the_weekend_and_danish_public_holidays():
    assert outbox.working_days_before(date(2027, 3, 1), 2) == date(2027, 2, 25)  # Monday → Thursday
    # Tuesday after Easter 2026: Easter Monday, Sunday, Saturday, Good Friday and Maundy Thursday skipped.
    assert outbox.working_days_before(date(2026, 4, 7), 2) == date(2026, 3, 31)


def test_a_task_due_soon_reminds_its_responsible_organisations_coordinators_at_8_local(world):
    world.coordinator.email = "lars@example.invalid"
    world.coordinator.save()
    task = services.task_create(
        actor=world.home_nurse,
        plan=world.plan,
        title="Genoptræningsplan",
        responsible_organisation=world.municipality,
        due_date=date(2027, 3, 1),
    )
    rows = _rows(task=task, kind=NotificationKind.TASK_DUE_SOON)
    assert {r.recipient for r in rows} == {world.coordinator}
    assert {r.due_at for r in rows} == {_utc(2027, 2, 25, 7, 0)}  # 08:00 in Copenhagen, winter time


@pytest.mark.parametrize(
    ("clock_change", "eight_local_in_utc"),
    [
        (date(2027, 3, 28), _utc(2027, 3, 28, 6, 0)),  # spring: clocks forward at 02:00, 08:00 is UTC+2
        (date(2027, 10, 31), _utc(2027, 10, 31, 7, 0)),  # autumn: clocks back at 03:00, 08:00 is UTC+1
    ],
)
def test_a_reminder_on_a_clock_change_day_fires_once_at_8_local(
    world, clock_change, eight_local_in_utc, mailoutbox
):
    world.patient.email = "kirsten@example.invalid"
    world.patient.save()
    task = _appointment(world, clock_change + timedelta(days=2))
    (row,) = _rows(task=task, kind=NotificationKind.APPOINTMENT_REMINDER)
    assert row.due_at == eight_local_in_utc
    # Sweeps every 15 minutes through the night and morning of the change: delivered at 8, once.
    sent_at = []
    moment = eight_local_in_utc - timedelta(hours=6)
    while moment <= eight_local_in_utc + timedelta(hours=6):
        if outbox.deliver_due(now=moment):
            sent_at.append(moment)
        moment += timedelta(minutes=15)
    assert sent_at == [eight_local_in_utc]
    assert [m.to for m in mailoutbox] == [["kirsten@example.invalid"]]


def test_an_appointment_reminder_goes_by_the_patients_preferred_channel(world):
    cases = [
        (ContactChannel.DIGITAL, "kirsten@example.invalid", NotificationChannel.EMAIL),
        (ContactChannel.DIGITAL, "", NotificationChannel.SMS),
        (ContactChannel.PHONE, "kirsten@example.invalid", NotificationChannel.SMS),
        (ContactChannel.LETTER, "kirsten@example.invalid", NotificationChannel.LETTER),
    ]
    patient = world.patient
    for index, (preference, email, expected) in enumerate(cases):
        patient.preferred_contact, patient.email = preference, email
        patient.save()
        task = _appointment(world, date(2027, 5, 3) + timedelta(days=7 * index))
        (row,) = _rows(task=task, kind=NotificationKind.APPOINTMENT_REMINDER)
        assert (row.recipient, row.channel) == (patient, expected)


def test_an_sms_due_in_quiet_hours_waits_until_8_in_the_morning(world):
    late_evening = datetime(2027, 1, 12, 22, 30, tzinfo=outbox.LOCAL)
    _notice(
        world,
        recipient=world.patient,
        kind=NotificationKind.PLAN_STATUS_CHANGED,
        channel=NotificationChannel.SMS,
        due_at=late_evening,
        event="test",
    )
    (row,) = _rows()
    assert row.due_at == datetime(2027, 1, 13, 8, 0, tzinfo=outbox.LOCAL)


def test_an_sms_claimed_in_quiet_hours_is_held_until_8(world):
    evening = datetime(2027, 1, 12, 20, 0, tzinfo=outbox.LOCAL)
    _notice(
        world,
        recipient=world.patient,
        kind=NotificationKind.PLAN_STATUS_CHANGED,
        channel=NotificationChannel.SMS,
        due_at=evening,
        event="test",
    )
    assert outbox.deliver_due(now=datetime(2027, 1, 12, 21, 30, tzinfo=outbox.LOCAL)) == 0
    (row,) = _rows()
    assert (row.state, row.attempts) == (NotificationState.PENDING, 0)
    assert row.due_at == datetime(2027, 1, 13, 8, 0, tzinfo=outbox.LOCAL)


def test_a_sign_in_code_by_sms_is_sent_at_once_also_at_night(world, sms_sink):
    """A person asked for it a moment ago and waits for it: no quiet hours (choices.ASKED_FOR_NOW)."""
    night = datetime(2027, 1, 12, 23, 40, tzinfo=outbox.LOCAL)
    world.patient.phone = "22 41 63 18"
    world.patient.save()
    _notice(
        world,
        recipient=world.patient,
        kind=NotificationKind.SIGN_IN_CODE,
        channel=NotificationChannel.SMS,
        due_at=night,
        event="test",
    )
    (row,) = _rows()
    assert row.due_at == night
    assert outbox.deliver_due(now=night) == 1
    assert len(sms_sink.messages()) == 1


def test_a_cancelled_tasks_pending_reminder_is_never_sent(world):
    task = _appointment(world, date(2027, 5, 10))
    services.task_transition(actor=world.coordinator, task=task, to_status=TaskStatus.CANCELLED)
    (row,) = _rows(task=task)
    assert row.state == NotificationState.CANCELLED
    assert outbox.deliver_due(now=_utc(2027, 6, 1)) == 0
    row.refresh_from_db()
    assert (row.state, row.sent_at) == (NotificationState.CANCELLED, None)


def test_moving_a_task_moves_its_reminder(world):
    task = _appointment(world, date(2027, 5, 10))
    task = services.task_update(
        actor=world.coordinator,
        task=task,
        expected_version=task.version,
        title=task.title,
        kind=TaskKind(task.kind),
        responsible_organisation=task.responsible_organisation,
        responsible_person=None,
        window_start=date(2027, 5, 20),
        due_date=date(2027, 5, 20),
        description="",
        goal=None,
        depends_on=None,
        visible_to_patient=True,
    )
    states = {r.due_at.astimezone(outbox.LOCAL).date(): r.state for r in _rows(task=task)}
    assert states == {
        date(2027, 5, 8): NotificationState.CANCELLED,
        date(2027, 5, 18): NotificationState.PENDING,
    }


def test_a_plan_status_change_reaches_the_participating_staff_in_the_product_only(world):
    services.plan_transition(actor=world.coordinator, plan=world.plan, to_status=PlanStatus.ON_HOLD)
    rows = _rows(kind=NotificationKind.PLAN_STATUS_CHANGED)
    assert {r.channel for r in rows} == {NotificationChannel.IN_APP}
    assert {r.recipient for r in rows} == {world.hospital_doctor, world.home_nurse, world.gp_doctor}


def test_an_overdue_task_tells_the_coordinator_once_a_day(world):
    task = world.plan.tasks.get()
    Task.objects.filter(pk=task.pk).update(due_date=date(2026, 11, 20))
    for _ in range(3):
        outbox.overdue_scan(today=date(2026, 11, 25))
    outbox.overdue_scan(today=date(2026, 11, 26))
    rows = _rows(kind=NotificationKind.TASK_OVERDUE, channel=NotificationChannel.IN_APP)
    assert [(r.recipient, r.dedupe_key.rsplit("|", 1)[1]) for r in rows] == [
        (world.coordinator, "overdue:2026-11-25"),
        (world.coordinator, "overdue:2026-11-26"),
    ]


def test_what_leaves_the_product_carries_no_health_data(world, mail_sink, sms_sink):
    """Through the real local mail server and SMS gateway: the patient's e-mail, the patient's SMS and the
    nurse's e-mail say that there is news and where to see it, and nothing about the illness or the task."""
    world.patient.email = "kirsten@example.invalid"
    world.patient.phone = "22 41 63 18"
    world.patient.save()
    world.home_nurse.email = "mette@example.invalid"
    world.home_nurse.save()
    by_email = _appointment(world, date(2027, 5, 10))
    world.patient.preferred_contact = ContactChannel.PHONE
    world.patient.save()
    by_sms = _appointment(world, date(2027, 5, 12))
    services.task_create(
        actor=world.coordinator,
        plan=world.plan,
        title="Insulinjustering ved KOL-forværring",
        responsible_organisation=world.municipality,
        responsible_person=world.home_nurse,
    )
    assert outbox.deliver_due(now=_utc(2027, 5, 20, 10)) >= 4  # noon in Copenhagen: no quiet hours
    mails = {tuple(m["to"]): m["subject"] + m["body"] for m in mail_sink.messages()}
    texts = [m["message"] for m in sms_sink.messages()]
    assert set(mails) == {("kirsten@example.invalid",), ("mette@example.invalid",)}
    assert [m["msisdn"] for m in sms_sink.messages()] == [4522416318]
    for forbidden in [
        world.patient.cpr,
        world.patient.cpr[:6],
        "KOL",
        "diabetes",
        "J44",
        "E11",
        by_email.title,
        by_sms.title,
        "Insulinjustering",
        world.plan.title,
    ]:
        for body in [*mails.values(), *texts]:
            assert forbidden not in body, forbidden
    assert "46 31 00 00" in mails[("kirsten@example.invalid",)]  # the coordinator's phone
    assert "46 31 00 00" in texts[0]


def test_a_transient_error_is_retried_with_backoff_then_failed_for_an_administrator(world, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens: connection refused
    world.coordinator.email = "lars@example.invalid"
    world.coordinator.save()
    start = timezone.now()
    _notice(world, channel=NotificationChannel.EMAIL, due_at=start)
    moment = start
    for _attempt in range(settings.NOTIFICATION_MAX_ATTEMPTS):
        moment += timedelta(hours=2)
        outbox.deliver_due(now=moment)
    (row,) = _rows()
    assert (row.state, row.attempts) == (NotificationState.FAILED, settings.NOTIFICATION_MAX_ATTEMPTS)
    assert row.last_error == "ConnectionRefusedError"
    assert outbox.retry_failed([row.pk]) == 1
    row.refresh_from_db()
    assert (row.state, row.attempts) == (NotificationState.PENDING, 0)


def test_a_row_whose_worker_died_while_sending_is_sent_again_after_its_lease(world, mailoutbox):
    world.coordinator.email = "lars@example.invalid"
    world.coordinator.save()
    _notice(world, channel=NotificationChannel.EMAIL)
    now = timezone.now()
    assert len(outbox.claim_due(now=now, limit=10)) == 1  # claimed, then the worker "dies"
    assert outbox.sweep(now=now + timedelta(minutes=1)) == 0  # still within the lease
    assert outbox.sweep(now=now + outbox.LEASE + timedelta(seconds=1)) == 1
    (row,) = _rows()
    assert (row.state, row.attempts) == (NotificationState.SENT, 2)
    assert [m.to for m in mailoutbox] == [["lars@example.invalid"]]


@pytest.mark.django_db(transaction=True)
def test_three_sweepers_at_once_deliver_each_row_once(world, mail_sink):
    """Three full sweeps (lease reclaim and delivery) in parallel over e-mails and in-app messages."""
    world.coordinator.email = "lars@example.invalid"
    world.coordinator.save()
    now = timezone.now()
    for index in range(300):
        channel = NotificationChannel.EMAIL if index % 3 == 0 else NotificationChannel.IN_APP
        _notice(world, channel=channel, due_at=now, event=f"e{index}")
    counts: list[int] = []

    def sweeper() -> None:
        try:
            counts.append(outbox.sweep(now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sum(counts) == 300
    assert {(r.state, r.attempts) for r in _rows()} == {(NotificationState.SENT, 1)}
    assert len(mail_sink.messages()) == 100
    assert mail_sink.duplicates() == 0


@pytest.mark.django_db(transaction=True)
def test_a_message_due_now_asks_a_worker_only_after_the_change_commits(world, monkeypatch):
    asked: list[bool] = []
    monkeypatch.setattr(outbox, "_ask_a_worker", lambda: asked.append(True))
    with transaction.atomic():
        _notice(world)
        assert asked == []
    assert asked == [True]


def test_a_reminder_a_worker_holds_is_not_sent_once_its_task_is_cancelled(world, mailoutbox):
    world.patient.email = "kirsten@example.invalid"
    world.patient.save()
    task = _appointment(world, date(2027, 5, 10))
    (row,) = _rows(task=task)
    claimed = outbox.claim_due(now=row.due_at, limit=10)  # a worker has it, about to send
    services.task_transition(actor=world.coordinator, task=task, to_status=TaskStatus.CANCELLED)
    row.refresh_from_db()
    assert row.state == NotificationState.CANCELLED
    assert outbox._deliver_one(row, claimed[row.pk][0], row.due_at) is False
    assert mailoutbox == []


def test_an_overdue_notice_waiting_is_cancelled_when_the_task_is_done(world):
    task = world.plan.tasks.get()
    Task.objects.filter(pk=task.pk).update(due_date=timezone.localdate() - timedelta(days=3))
    Notification.objects.all().delete()
    outbox.overdue_scan()
    Notification.objects.filter(kind=NotificationKind.TASK_OVERDUE).update(due_at=_utc(2099, 1, 1))
    services.task_transition(actor=world.home_nurse, task=task, to_status=TaskStatus.COMPLETED)
    states = set(
        Notification.objects.filter(kind=NotificationKind.TASK_OVERDUE).values_list("state", flat=True)
    )
    assert states == {NotificationState.CANCELLED}


def test_a_plan_put_on_hold_stops_its_reminders_and_taking_it_up_again_restarts_them(world):
    task = _appointment(world, date(2027, 5, 10))
    services.plan_transition(actor=world.coordinator, plan=world.plan, to_status=PlanStatus.ON_HOLD)
    assert {r.state for r in _rows(task=task)} == {NotificationState.CANCELLED}
    services.plan_transition(actor=world.coordinator, plan=world.plan, to_status=PlanStatus.ACTIVE)
    assert {r.state for r in _rows(task=task)} == {NotificationState.PENDING}


def test_a_closed_plan_gets_no_overdue_notices(world):
    Task.objects.filter(plan=world.plan).update(due_date=timezone.localdate() - timedelta(days=3))
    services.plan_transition(actor=world.coordinator, plan=world.plan, to_status=PlanStatus.COMPLETED)
    Notification.objects.all().delete()
    assert outbox.overdue_scan() == 0
    assert not Notification.objects.exists()


def test_a_claim_is_never_part_of_a_callers_transaction(world):
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.claim_due(now=timezone.now(), limit=10)


def test_a_reminder_letter_leaves_five_working_days_before_the_appointment(world):
    world.patient.preferred_contact = ContactChannel.LETTER
    world.patient.save()
    task = _appointment(world, date(2027, 5, 10))  # a Monday
    (row,) = _rows(task=task)
    assert row.channel == NotificationChannel.LETTER
    # Friday 7, Wednesday 5, Tuesday 4, Monday 3 May and Friday 30 April: Ascension Day (6 May) skipped.
    assert row.due_at == datetime(2027, 4, 30, 8, 0, tzinfo=outbox.LOCAL)
