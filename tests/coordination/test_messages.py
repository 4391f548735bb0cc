"""Messages between sectors on a plan: who reads them, read receipts per organisation, who may write for
and to whom, no editing, the recipients' notices, unread counts and the forms."""

from __future__ import annotations

import html
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import ProgrammingError, connection, transaction
from django.db.models import Value
from django.http import Http404
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from coordination import selectors, services
from coordination.access import access_thread
from coordination.choices import MessagePriority
from coordination.models import Message, MessageRecipient, MessageThread
from pathways import access, outbox
from pathways import services as hub_services
from pathways.choices import (
    AccessAction,
    AccessPurpose,
    MembershipRole,
    NotificationChannel,
    NotificationKind,
    NotificationState,
    Sector,
)
from pathways.models import AccessLog, Notification, Organisation, PathwayPlan, Patient, Task
from pathways.selectors import plan_page_for
from tests.conftest import make_user, sign_in

LONG_DANISH = (
    "Kære Lægerne i Byen\n\n"
    "Kirsten er kommet godt hjem. Vi så hende i går kl. 14 og målte iltmætning 93 % og blodsukker 8,4.\n"
    "Hun fortæller, at hun er træt, men spiser og drikker. Ødemer om anklerne som før udskrivelsen.\n\n"
    "Spørgsmål: Skal furosemid øges, eller afventer I kontrollen på fredag?\n\n"
    "Venlig hilsen\nHjemmesygeplejen Roskilde, æøå ÆØÅ"
) * 12


def _thread(world, *, actor=None, sender=None, recipients=None, body="Kirsten er hjemme.", **extra):
    return services.thread_start(
        actor=actor or world.home_nurse,
        plan=world.plan,
        sender_organisation=sender or world.municipality,
        recipients=recipients or [world.gp],
        subject=extra.pop("subject", "Hjemmebesøg efter udskrivelse"),
        body=body,
        priority=extra.pop("priority", MessagePriority.ROUTINE),
        **extra,
    )


def _thread_url(world, thread, name="coordination:thread-detail"):
    return reverse(name, args=[world.plan.public_id, thread.public_id])


def _deliver_in_app():
    """In-app rows as the worker's claim leaves them (the test's transaction refuses its durable claim)."""
    Notification.objects.filter(
        state=NotificationState.PENDING, channel=NotificationChannel.IN_APP, due_at__lte=timezone.now()
    ).update(state=NotificationState.SENT, sent_at=timezone.now(), attempts=1)


def _rows():
    return (MessageThread.objects.count(), Message.objects.count(), MessageRecipient.objects.count())


# --- Who reads ------------------------------------------------------------------------------------------


def test_participants_read_the_thread_and_the_read_is_logged_as_reading_messages(client, world):
    thread = _thread(world)
    response = sign_in(client, world.gp_doctor).get(_thread_url(world, thread))
    assert response.status_code == 200
    assert "Kirsten er hjemme." in response.content.decode()
    log = AccessLog.objects.filter(actor=world.gp_doctor, action=AccessAction.VIEW_MESSAGES).get()
    assert (log.patient, log.organisation, log.purpose) == (world.patient, world.gp, AccessPurpose.TREATMENT)


def test_an_outsider_gets_404_for_the_thread_and_reads_nothing(client, world):
    thread = _thread(world)
    response = sign_in(client, world.outsider).get(_thread_url(world, thread))
    assert response.status_code == 404
    assert "Kirsten" not in response.content.decode()
    assert not AccessLog.objects.filter(actor=world.outsider).exists()
    assert MessageRecipient.objects.get().read_at is None


def test_a_thread_of_another_plan_is_404_under_this_plan(client, world):
    thread = _thread(world)
    url = reverse("coordination:thread-detail", args=[world.other_plan.public_id, thread.public_id])
    assert sign_in(client, world.outsider).get(url).status_code == 404
    granted = access.access_plan(world.gp_doctor, world.plan.public_id)
    assert access_thread(granted, thread.public_id) == thread
    with pytest.raises(Http404):
        access_thread(granted, "not-a-uuid")


def test_an_emergency_reader_reads_logged_as_emergency_but_marks_nothing_and_cannot_write(client, world):
    thread = _thread(world)
    emergency = Organisation.objects.create(name="Akutmodtagelsen", sector=Sector.HOSPITAL, sor_code="1009")
    doctor = make_user("akutlaege", emergency)
    hub_services.emergency_access_grant(
        actor=doctor, organisation=emergency, plan=world.plan, reason="Indlagt akut, skal kende planen."
    )
    signed_in = sign_in(client, doctor)
    response = signed_in.get(_thread_url(world, thread))
    assert response.status_code == 200
    assert "Svar" not in response.content.decode()
    log = AccessLog.objects.filter(actor=doctor, action=AccessAction.VIEW_MESSAGES).get()
    assert log.purpose == AccessPurpose.EMERGENCY
    assert MessageRecipient.objects.get().read_at is None
    before = _rows()
    body = {"sender_organisation": emergency.public_id, "recipients": world.gp.public_id, "body": "Hej"}
    assert signed_in.post(_thread_url(world, thread, "coordination:thread-reply"), body).status_code == 403
    assert (
        signed_in.get(reverse("coordination:thread-create", args=[world.plan.public_id])).status_code == 403
    )
    assert _rows() == before
    with pytest.raises(PermissionDenied):
        services.thread_mark_read(actor=doctor, thread=thread)


# --- Read receipts ---------------------------------------------------------------------------------------


def test_a_reader_marks_their_own_organisations_receipt_not_the_others(world):
    thread = _thread(world, recipients=[world.gp, world.hospital])
    assert services.thread_mark_read(actor=world.gp_doctor, thread=thread) == 1
    receipts = {r.organisation: r for r in MessageRecipient.objects.all()}
    assert receipts[world.gp].read_by == world.gp_doctor
    assert receipts[world.gp].read_at is not None
    assert receipts[world.hospital].read_at is None
    assert receipts[world.hospital].read_by is None


def test_the_first_reader_of_an_organisation_is_kept(world):
    colleague = make_user("gp_colleague", world.gp)
    thread = _thread(world)
    services.thread_mark_read(actor=world.gp_doctor, thread=thread)
    first = MessageRecipient.objects.get()
    assert services.thread_mark_read(actor=colleague, thread=thread) == 0
    again = MessageRecipient.objects.get()
    assert (again.read_by, again.read_at) == (world.gp_doctor, first.read_at)


def test_opening_the_thread_shows_who_read_it_for_each_organisation(client, world):
    thread = _thread(world, recipients=[world.gp, world.hospital])
    page = sign_in(client, world.gp_doctor).get(_thread_url(world, thread)).content.decode()
    assert f"Læst af {world.gp.name}" in page
    assert f"({world.gp_doctor.get_full_name()})" in page
    assert "Endnu ikke læst" in page


def test_reading_the_thread_marks_the_readers_own_notices_read_too(world):
    colleague = make_user("gp_colleague", world.gp, email="kollega@example.invalid")
    thread = _thread(world)
    _deliver_in_app()
    services.thread_mark_read(actor=world.gp_doctor, thread=thread)
    notices = Notification.objects.filter(
        kind=NotificationKind.MESSAGE_RECEIVED, channel=NotificationChannel.IN_APP
    )
    mine = notices.addressed_to(world.gp_doctor).get()
    theirs = notices.addressed_to(colleague).get()
    assert mine.read_at is not None
    assert theirs.read_at is None


# --- Who writes for whom, and to whom --------------------------------------------------------------------


def test_a_message_to_an_organisation_outside_the_plan_is_refused_and_nothing_is_written(world):
    with pytest.raises(ValidationError) as refused:
        _thread(world, recipients=[world.gp, world.unrelated])
    refusal = "Du kan kun skrive til organisationer, der deltager i planen."
    assert refusal in str(refused.value.message_dict["recipients"])
    assert _rows() == (0, 0, 0)
    assert not Notification.objects.filter(kind=NotificationKind.MESSAGE_RECEIVED).exists()


def test_writing_for_an_organisation_the_actor_does_not_act_for_is_refused(world):
    with pytest.raises(PermissionDenied):
        _thread(world, actor=world.home_nurse, sender=world.hospital, recipients=[world.gp])
    assert _rows() == (0, 0, 0)


def test_writing_only_to_the_senders_own_organisation_is_refused(world):
    with pytest.raises(ValidationError) as refused:
        _thread(world, recipients=[world.municipality])
    assert "recipients" in refused.value.message_dict
    assert _rows() == (0, 0, 0)


def test_empty_and_too_long_texts_and_a_task_of_another_plan_are_refused(world):
    foreign_task = Task.objects.create(
        plan=world.other_plan, title="Besøg", responsible_organisation=world.unrelated
    )
    with pytest.raises(ValidationError) as refused:
        _thread(world, body="   ", subject="x" * 201, task=foreign_task, priority="whenever")
    assert set(refused.value.message_dict) == {"body", "subject", "task", "priority"}
    with pytest.raises(ValidationError):
        _thread(world, body="x" * 4001)
    assert _rows() == (0, 0, 0)


def test_the_coordinator_writes_for_the_coordinators_organisation(world):
    thread = _thread(world, actor=world.coordinator, sender=world.municipality, recipients=[world.hospital])
    assert thread.messages.get().sender_organisation == world.municipality


def test_a_reply_writes_a_receipt_per_organisation_and_moves_the_thread_forward(world):
    thread = _thread(world)
    started = thread.last_message_at
    message = services.message_send(
        actor=world.gp_doctor,
        thread=thread,
        sender_organisation=world.gp,
        recipients=[world.municipality, world.hospital],
        body="Tak. Vi øger ikke furosemid før fredag.",
        priority=MessagePriority.ROUTINE,
    )
    assert {r.organisation for r in message.recipients.all()} == {world.municipality, world.hospital}
    assert set(MessageRecipient.objects.filter(message=message).values_list("plan", flat=True)) == {
        world.plan.pk
    }
    thread.refresh_from_db()
    assert thread.last_message_at == message.sent_at > started


def test_a_message_cannot_be_edited_after_sending(world):
    message = _thread(world).messages.get()
    with pytest.raises(ProgrammingError, match="Cannot update"), transaction.atomic():
        Message.objects.filter(pk=message.pk).update(body="Rettet i smug")
    assert Message.objects.get(pk=message.pk).body == "Kirsten er hjemme."


# --- Notices ---------------------------------------------------------------------------------------------


def test_each_recipient_staff_member_is_told_once_in_app_and_by_email_and_the_sender_is_not(world):
    world.gp_doctor.email = "gp@example.invalid"
    world.gp_doctor.save()
    world.hospital_doctor.email = "hd@example.invalid"
    world.hospital_doctor.save()
    # A person working in two of the organisations written to hears of the message once.
    hub_services.membership_add(
        user=world.gp_doctor, organisation=world.hospital, role=MembershipRole.CLINICIAN
    )
    world.home_nurse.email = "nurse@example.invalid"
    world.home_nurse.save()
    _thread(world, recipients=[world.gp, world.hospital, world.municipality])
    rows = Notification.objects.filter(kind=NotificationKind.MESSAGE_RECEIVED)
    by_recipient = sorted((n.recipient_id, n.channel) for n in rows)
    expected = [
        (user.pk, channel)
        for user in (world.gp_doctor, world.hospital_doctor)
        for channel in (NotificationChannel.IN_APP, NotificationChannel.EMAIL)
    ] + [(world.coordinator.pk, NotificationChannel.IN_APP)]  # no e-mail address: in-app only
    assert by_recipient == sorted(expected)
    assert not rows.filter(recipient_id=world.home_nurse.pk).exists()


def test_the_email_about_a_message_holds_none_of_its_content(world):
    world.gp_doctor.email = "gp@example.invalid"
    world.gp_doctor.save()
    _thread(world, body="Iltmætning 93 %, furosemid 40 mg", subject="Kirstens ødemer")
    row = Notification.objects.get(kind=NotificationKind.MESSAGE_RECEIVED, channel=NotificationChannel.EMAIL)
    sent = outbox._message(row)
    for secret in ("Iltmætning", "furosemid", "ødemer", "Kirsten", world.patient.cpr):
        assert secret not in sent.body
        assert secret not in sent.subject


# --- Unread counts ---------------------------------------------------------------------------------------


def _many_threads(world, count):
    for number in range(count):
        _thread(world, subject=f"Tråd {number}", recipients=[world.gp, world.hospital])


@pytest.mark.parametrize("threads", [5, 50])
def test_unread_counts_are_right_and_constant_in_queries(world, django_assert_max_num_queries, threads):
    _many_threads(world, threads)
    services.thread_mark_read(actor=world.hospital_doctor, thread=MessageThread.objects.order_by("pk")[0])
    plans = PathwayPlan.objects.filter(pk__in=[world.plan.pk, world.other_plan.pk]).order_by("pk")
    with django_assert_max_num_queries(2):
        gp_counts = list(
            plans.annotate(unread=selectors.unread_messages_subquery(world.gp_doctor)).values_list(
                "unread", flat=True
            )
        )
    assert gp_counts == [threads, 0]
    with django_assert_max_num_queries(2):
        assert selectors.unread_message_total(world.hospital_doctor) == threads - 1
    assert selectors.unread_message_total(world.home_nurse) == 0
    assert selectors.unread_message_total(world.outsider) == 0


def test_the_unread_subquery_is_zero_for_a_user_without_organisations(world):
    assert isinstance(selectors.unread_messages_subquery(world.admin), Value)
    assert selectors.unread_message_total(world.admin) == 0


@pytest.mark.parametrize("threads", [5, 50])
def test_the_plan_section_reads_in_constant_queries(world, threads):
    _many_threads(world, threads)
    page = plan_page_for(world.gp_doctor, world.plan.public_id)
    with CaptureQueriesContext(connection) as queries:
        context = selectors.plan_messages_section(world.gp_doctor, page)
    assert context is not None
    section = context["message_section"]
    assert len(queries) <= 3
    assert len(section.threads) == threads
    assert section.unread == threads
    assert section.can_send


@pytest.mark.parametrize("messages", [3, 30])
def test_the_thread_page_reads_in_constant_queries(client, world, django_assert_max_num_queries, messages):
    thread = _thread(world)
    for _number in range(messages - 1):
        services.message_send(
            actor=world.gp_doctor,
            thread=thread,
            sender_organisation=world.gp,
            recipients=[world.municipality],
            body="Svar",
            priority=MessagePriority.ROUTINE,
        )
    signed_in = sign_in(client, world.hospital_doctor)
    with django_assert_max_num_queries(30):
        assert signed_in.get(_thread_url(world, thread)).status_code == 200


def test_the_plan_section_shows_urgent_threads_and_unread_counts(world):
    _thread(world, subject="Akut: faldet i hjemmet", priority=MessagePriority.URGENT)
    page = plan_page_for(world.gp_doctor, world.plan.public_id)
    context = selectors.plan_messages_section(world.gp_doctor, page)
    assert context is not None
    html = render_to_string("coordination/_partials/plan_messages.html", {**context, "plan": world.plan})
    assert "Akut: faldet i hjemmet" in html
    assert "Haster" in html
    assert "1 ulæst" in html
    assert "Ny besked" in html


# --- The forms -------------------------------------------------------------------------------------------


def _form(world, **changes):
    data = {
        "sender_organisation": str(world.municipality.public_id),
        "recipients": [str(world.gp.public_id)],
        "subject": "Hjemmebesøg efter udskrivelse",
        "priority": MessagePriority.ROUTINE,
        "body": "Kirsten er hjemme.",
    }
    return {key: value for key, value in (data | changes).items() if value is not None}


def test_a_new_thread_is_posted_and_the_writer_is_sent_to_it(client, world):
    signed_in = sign_in(client, world.home_nurse)
    url = reverse("coordination:thread-create", args=[world.plan.public_id])
    form_page = signed_in.get(url).content.decode()
    assert f'value="{world.municipality.public_id}" selected' in form_page  # the one they act for
    response = signed_in.post(url, _form(world))
    thread = MessageThread.objects.get()
    assert response.status_code == 302
    assert response["Location"] == _thread_url(world, thread)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"subject": ""}, "subject"),
        ({"body": "x" * 4001}, "body"),
        ({"subject": "x" * 201}, "subject"),
        ({"recipients": None}, "recipients"),
        ({"recipients": ["not-a-uuid"]}, "recipients"),
        ({"recipients": "unrelated"}, "recipients"),
        ({"recipients": "municipality"}, "recipients"),
        ({"sender_organisation": "hospital"}, "sender_organisation"),
        ({"sender_organisation": "not-a-uuid"}, "sender_organisation"),
        ({"task": "foreign"}, "task"),
        ({"priority": "whenever"}, "priority"),
    ],
)
def test_bad_input_on_the_new_thread_form_gives_422_with_errors_and_writes_nothing(
    client, world, changes, field
):
    foreign_task = Task.objects.create(
        plan=world.other_plan, title="Besøg", responsible_organisation=world.unrelated
    )
    named = {
        "unrelated": [str(world.unrelated.public_id)],
        "municipality": [str(world.municipality.public_id)],
        "hospital": str(world.hospital.public_id),
        "foreign": str(foreign_task.public_id),
    }
    data = _form(
        world,
        **{
            key: named.get(value, value) if isinstance(value, str) else value
            for key, value in changes.items()
        },
    )
    response = sign_in(client, world.home_nurse).post(
        reverse("coordination:thread-create", args=[world.plan.public_id]), data
    )
    assert response.status_code == 422
    form = response.context["form"]
    assert list(form.errors) == [field]
    assert 'class="form-error-message"' in response.content.decode()
    assert _rows() == (0, 0, 0)
    assert not Notification.objects.filter(kind=NotificationKind.MESSAGE_RECEIVED).exists()


def test_bad_input_on_the_reply_form_gives_422_and_writes_nothing(client, world):
    thread = _thread(world)
    before = _rows()
    signed_in = sign_in(client, world.gp_doctor)
    url = _thread_url(world, thread, "coordination:thread-reply")
    data = {
        "sender_organisation": world.gp.public_id,
        "recipients": world.unrelated.public_id,
        "body": "",
        "priority": "routine",
    }
    response = signed_in.post(url, data)
    assert response.status_code == 422
    assert set(response.context["form"].errors) == {"recipients", "body"}
    assert "Skriv beskeden." in response.content.decode()
    assert _rows() == before


def test_a_reply_by_plain_post_goes_back_to_the_new_message(client, world):
    thread = _thread(world)
    signed_in = sign_in(client, world.gp_doctor)
    url = _thread_url(world, thread, "coordination:thread-reply")
    data = {
        "sender_organisation": world.gp.public_id,
        "recipients": world.municipality.public_id,
        "body": "Tak",
        "priority": "routine",
    }
    response = signed_in.post(url, data)
    message = thread.messages.order_by("-sent_at", "-id").first()
    assert response.status_code == 302
    assert response["Location"] == _thread_url(world, thread) + f"#message-{message.public_id}"


def test_a_reply_with_htmx_returns_the_thread_with_the_new_message(client, world):
    thread = _thread(world)
    signed_in = sign_in(client, world.gp_doctor)
    url = _thread_url(world, thread, "coordination:thread-reply")
    data = {
        "sender_organisation": world.gp.public_id,
        "recipients": world.municipality.public_id,
        "body": "Tak!",
        "priority": "routine",
    }
    response = signed_in.post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<div id="thread">' in page
    assert "Tak!" in page
    assert "<html" not in page


def test_the_thread_page_offers_a_reply_to_those_in_the_conversation(client, world):
    thread = _thread(world, recipients=[world.gp, world.hospital])
    page = sign_in(client, world.gp_doctor).get(_thread_url(world, thread)).content.decode()

    def checked(organisation):
        return re.search(rf'value="{organisation.public_id}"[^>]*id="reply-recipients_\d+" checked', page)

    assert checked(world.municipality)
    assert checked(world.hospital)
    assert not checked(world.gp)  # the reader writes from there
    assert f'<option value="{world.gp.public_id}" selected>' in page


def test_a_long_danish_text_with_line_breaks_makes_the_round_trip_exactly(client, world):
    signed_in = sign_in(client, world.home_nurse)
    url = reverse("coordination:thread-create", args=[world.plan.public_id])
    typed = LONG_DANISH[:3990].strip()
    posted = typed.replace("\n", "\r\n")  # as a browser posts a textarea
    subject = "Ødemer og åndenød – spørgsmål til egen læge"
    # Sent back with an error elsewhere, the text comes back as it was typed.
    again = signed_in.post(url, _form(world, body=posted, subject=""))
    assert again.status_code == 422
    assert posted in html.unescape(again.content.decode())
    response = signed_in.post(url, _form(world, body=posted, subject=subject))
    assert response.status_code == 302
    message = Message.objects.get()
    assert message.body == typed
    assert message.thread.subject == subject
    # Shown with its line breaks.
    page = sign_in(client, world.gp_doctor).get(response["Location"]).content.decode()
    assert "Kære Lægerne i Byen<br><br>Kirsten er kommet godt hjem." in page
    assert html.unescape(page).count("Venlig hilsen<br>Hjemmesygeplejen Roskilde, æøå ÆØÅ") >= 10


def test_a_body_with_markup_is_shown_as_text(client, world):
    thread = _thread(world, body="<script>alert(1)</script>\nNæste linje")
    page = sign_in(client, world.gp_doctor).get(_thread_url(world, thread)).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>Næste linje" in page


def test_a_closed_plan_takes_no_new_messages(world):
    PathwayPlan.objects.filter(pk=world.plan.pk).update(status="completed")
    with pytest.raises(ValidationError):
        _thread(world)
    assert _rows() == (0, 0, 0)


def test_the_patient_is_not_a_recipient(world):
    # Messages are between organisations; the patient hears nothing of them from here.
    _thread(world)
    assert not Notification.objects.filter(recipient_type__model=Patient._meta.model_name).exists()


def test_in_a_large_organisation_those_working_with_the_plan_are_told_in_a_fixed_number_of_queries(
    world, django_assert_max_num_queries
):
    """A municipality of many: its coordinators and the people responsible for the plan's open tasks
    hear of the message; the rest see it in the unread count. Sending costs the same queries for 5 staff
    as for 60."""
    responsible = make_user("ansvarlig", world.municipality, email="a@example.invalid")
    hub_services.task_create(
        actor=world.coordinator,
        plan=world.plan,
        title="Besøg",
        responsible_organisation=world.municipality,
        responsible_person=responsible,
    )

    def send_to_municipality() -> int:
        with CaptureQueriesContext(connection) as ctx:
            _thread(world, actor=world.gp_doctor, sender=world.gp, recipients=[world.municipality])
        return len(ctx.captured_queries)

    send_to_municipality()  # content types and the like are read once per process
    for i in range(3):
        make_user(f"kollega{i}", world.municipality, email=f"k{i}@example.invalid")
    few = send_to_municipality()
    for i in range(3, 60):
        make_user(f"kollega{i}", world.municipality, email=f"k{i}@example.invalid")
    assert send_to_municipality() == few
    told = set(
        Notification.objects.filter(kind=NotificationKind.MESSAGE_RECEIVED).values_list(
            "recipient_id", flat=True
        )
    )
    assert told == {world.coordinator.pk, responsible.pk}  # not the home nurse, who has no task here


def test_in_an_organisation_where_nobody_works_with_the_plan_everyone_is_told(world):
    _thread(world, actor=world.home_nurse, sender=world.municipality, recipients=[world.gp])
    told = set(
        Notification.objects.filter(kind=NotificationKind.MESSAGE_RECEIVED).values_list(
            "recipient_id", flat=True
        )
    )
    assert told == {world.gp_doctor.pk}
