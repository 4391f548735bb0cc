"""`manage.py seed_synthetic_relatives`: the relatives' part of the benchmark's synthetic data set.

`seed_synthetic` (the hub's, which cannot import relatives) grows the synthetic patients and their plans;
this gives each of its plans not yet given them the relatives a plan has: four in five a closest relative
(spouse or partner, or a grown-up child) whom the patient lets follow the whole plan or the
appointments, one in three of those a second relative as a contact person only. Decided per plan by the
plan's id, so a run stopped and started again (it goes on after the last plan it reached) makes the same
relatives. Bulk inserts in batches, the audit triggers skipped (as seed_synthetic does).
"""

from __future__ import annotations

import random
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from pathways.management.synthetic import progress, without_audit_triggers
from pathways.models import PathwayPlan
from relatives.choices import (
    ConsentAction,
    ConsentDecider,
    ConsentMethod,
    ConsentScope,
    Relation,
    RelativeChannel,
)
from relatives.models import Relative, RelativeConsent

BATCH = 5000
NAMES = ["Anne", "Bo", "Camilla", "Dorte", "Erik", "Frank", "Gitte", "Henrik", "Inge", "Jakob", "Kirsten"]


def synthetic_plans() -> Any:
    return PathwayPlan.objects.filter(patient__family_name__startswith="Syn-")


class Command(BaseCommand):
    help = "Give seed_synthetic's plans their relatives, with the patient's consent."

    def handle(self, *args: Any, **options: Any) -> None:
        reached = Relative.objects.filter(plan__in=synthetic_plans()).aggregate(last=Max("plan_id"))["last"]
        todo = synthetic_plans().filter(pk__gt=reached or 0).order_by("pk")
        total = todo.count()
        self.stdout.write(f"Synthetic plans to give relatives: {total:,}")
        done = 0
        with progress(total=total, unit=" plans") as bar:
            last = reached or 0
            while batch := list(todo.filter(pk__gt=last).values_list("pk", "coordinator_id")[:BATCH]):
                with transaction.atomic():
                    without_audit_triggers()
                    _relatives(batch)
                last = batch[-1][0]
                done += len(batch)
                bar.update(len(batch))
                if bar.disable:
                    self.stdout.write(f"  {done:>9,} of {total:,} plans")
        self.stdout.write(self.style.SUCCESS("Done"))


def _relatives(plans: list[tuple[int, int | None]]) -> None:
    now = timezone.now()
    relatives: list[Relative] = []
    scopes: list[ConsentScope] = []
    for plan_id, coordinator_id in plans:
        rng = random.Random(plan_id)  # noqa: S311 - synthetic data, not security
        if rng.random() >= 0.8:
            continue
        relation = rng.choice([Relation.SPOUSE, Relation.CHILD])
        relatives.append(
            Relative(
                plan_id=plan_id,
                name=f"{rng.choice(NAMES)} Syn-pårørende",
                relation=relation,
                phone=f"{rng.randint(20000000, 99999999)}",
                preferred_channel=RelativeChannel.SMS,
                is_closest=True,
                added_by_id=coordinator_id,
            )
        )
        scopes.append(rng.choice([ConsentScope.WHOLE_PLAN, ConsentScope.APPOINTMENTS]))
        if rng.random() < 1 / 3:
            relatives.append(
                Relative(
                    plan_id=plan_id,
                    name=f"{rng.choice(NAMES)} Syn-kontakt",
                    relation=Relation.SIBLING,
                    phone=f"{rng.randint(20000000, 99999999)}",
                    added_by_id=coordinator_id,
                )
            )
            scopes.append(ConsentScope.CONTACT_ONLY)
    Relative.objects.bulk_create(relatives, batch_size=2000)
    RelativeConsent.objects.bulk_create(
        (
            RelativeConsent(
                plan_id=relative.plan_id,
                relative=relative,
                action=ConsentAction.GIVEN,
                scope=scope,
                method=ConsentMethod.SPOKEN,
                decided_by=ConsentDecider.PATIENT,
                coercion_checked=True,
                recorded_by_id=relative.added_by_id,
                recorded_at=now,
            )
            for relative, scope in zip(relatives, scopes, strict=True)
        ),
        batch_size=2000,
    )
