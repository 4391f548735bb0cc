"""`manage.py seed_synthetic_coordination`: the messages' part of the benchmark's synthetic data set.

`seed_synthetic` (the hub's, which cannot import coordination) grows the synthetic patients and their
plans; this gives two in three of its plans not yet given one a message thread between the organisations
taking part: three messages over the past months, each to the plan's other organisations, read by them
but the last, which waits unread (as the caseload's and worklist's unread counts see it). Decided per plan
by the plan's id, so a run stopped and started again (it goes on after the last plan it reached) makes the
same threads. Bulk inserts in batches, the audit triggers skipped (as seed_synthetic does).
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from coordination.choices import MessagePriority
from coordination.models import Message, MessageRecipient, MessageThread
from pathways.choices import MembershipRole
from pathways.management.synthetic import progress, without_audit_triggers
from pathways.models import Membership, PathwayPlan, PlanParticipant

BATCH = 5000
SUBJECTS = ["Udskrivelse og hjemmepleje", "Medicin efter udskrivelse", "Hjælpemidler", "Genoptræning"]
BODIES = [
    "Vi har talt med borgeren og aftalt besøg i næste uge.",
    "Kan I bekræfte, at medicinlisten er opdateret efter udskrivelsen?",
    "Hjælpemidlet er bestilt og leveres inden for 14 dage.",
    "Tak, det er noteret i planen.",
]


def synthetic_plans() -> Any:
    return PathwayPlan.objects.filter(patient__family_name__startswith="Syn-")


class Command(BaseCommand):
    help = "Give seed_synthetic's plans the messages between the organisations taking part."

    def handle(self, *args: Any, **options: Any) -> None:
        reached = MessageThread.objects.filter(plan__in=synthetic_plans()).aggregate(last=Max("plan_id"))
        todo = synthetic_plans().filter(pk__gt=reached["last"] or 0).order_by("pk")
        total = todo.count()
        self.stdout.write(f"Synthetic plans to give messages: {total:,}")
        # Each organisation's synthetic clinician writes and reads its messages (not its coordinators).
        clinicians = dict(
            Membership.objects.filter(
                user__username__startswith="syn-", role=MembershipRole.CLINICIAN, ended_at__isnull=True
            ).values_list("organisation_id", "user_id")
        )

        done = 0
        with progress(total=total, unit=" plans") as bar:
            last = reached["last"] or 0
            while batch := list(todo.filter(pk__gt=last).values_list("pk", flat=True)[:BATCH]):
                with transaction.atomic():
                    without_audit_triggers()
                    _threads(batch, clinicians)
                last = batch[-1]
                done += len(batch)
                bar.update(len(batch))
                if bar.disable:
                    self.stdout.write(f"  {done:>9,} of {total:,} plans")
        self.stdout.write(self.style.SUCCESS("Done"))


def _threads(plan_ids: list[int], clinicians: dict[int, int]) -> None:
    now = timezone.now()
    organisations: dict[int, list[int]] = defaultdict(list)
    for plan_id, organisation_id in (
        PlanParticipant.objects.filter(plan_id__in=plan_ids)
        .order_by("pk")
        .values_list("plan_id", "organisation_id")
    ):
        organisations[plan_id].append(organisation_id)
    threads: list[MessageThread] = []
    messages: list[tuple[MessageThread, Message, int]] = []  # the thread, the message, its sender's place
    for plan_id in plan_ids:
        rng = random.Random(plan_id)  # noqa: S311 - synthetic data, not security
        orgs = organisations[plan_id]
        if rng.random() >= 2 / 3 or len(orgs) < 2:
            continue
        started = now - timedelta(days=rng.randint(3, 300))
        sent = [started]
        for _ in range(2):  # each message a day or three after the one before
            sent.append(sent[-1] + timedelta(days=rng.randint(1, 3), hours=rng.randint(0, 8)))
        thread = MessageThread(
            plan_id=plan_id,
            subject=rng.choice(SUBJECTS),
            started_by_id=clinicians.get(orgs[0]),
            started_at=sent[0],
            last_message_at=sent[-1],
        )
        threads.append(thread)
        for n, at in enumerate(sent):
            sender = orgs[n % len(orgs)]
            message = Message(
                plan_id=plan_id,
                sender_id=clinicians.get(sender),
                sender_name="" if sender in clinicians else "Syntetisk afsender",
                sender_organisation_id=sender,
                body=BODIES[(plan_id + n) % len(BODIES)],
                priority=MessagePriority.ROUTINE,
                sent_at=at,
            )
            messages.append((thread, message, n))
    MessageThread.objects.bulk_create(threads, batch_size=2000)
    for thread, message, _ in messages:
        message.thread = thread
    Message.objects.bulk_create([message for _, message, _ in messages], batch_size=2000)
    recipients = []
    for _, message, n in messages:
        for organisation_id in organisations[message.plan_id]:
            if organisation_id == message.sender_organisation_id:
                continue
            read = n < 2 and organisation_id in clinicians  # the last message waits unread
            recipients.append(
                MessageRecipient(
                    message=message,
                    organisation_id=organisation_id,
                    plan_id=message.plan_id,
                    read_at=message.sent_at + timedelta(hours=2) if read else None,
                    read_by_id=clinicians.get(organisation_id) if read else None,
                )
            )
    MessageRecipient.objects.bulk_create(recipients, batch_size=2000)
