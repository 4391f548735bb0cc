"""`manage.py seed_synthetic_quality`: quality's part of the benchmark's synthetic data set.

`seed_synthetic` (the hub's, which cannot import quality) grows the synthetic patients and their plans;
this adds, to each of its patients not yet given one, a synthetic social background (legal basis SYNTHETIC)
and 15 months of what the indicators count (quality.demo.synthetic_history): discharges home with the home
nursing visit, the GP follow-up and rehabilitation that follow, readmissions, need assessments, a few
resolved disputes, WHO-5 sent and answered or not. Idempotent: a patient whose plan has a hospital stay is
left alone, so running it after each `seed_synthetic --patients N` adds only the new ones. COPY in batches,
the audit triggers skipped (as seed_synthetic does).
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from pathways.choices import Sector
from pathways.models import HospitalStay, Organisation, PathwayPlan, PlanParticipant
from quality import demo
from quality.choices import LegalBasis
from quality.models import SocialBackground

BATCH = 5000


class Command(BaseCommand):
    help = "Give seed_synthetic's patients a social background and the history the quality indicators count."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=2016)

    def handle(self, *args: Any, seed: int, **options: Any) -> None:
        rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
        started = time.monotonic()
        rehabilitation = {
            org.sor_code.split("-")[1][1:]: org.pk
            for org in Organisation.objects.filter(sor_code__startswith="SYN-K", sor_code__endswith="-GT")
        }
        home_nursing = {
            org.sor_code.split("-")[1][1:]: org.pk
            for org in Organisation.objects.filter(sor_code__startswith="SYN-K", sor_code__endswith="-HS")
        }
        hospital = PlanParticipant.objects.filter(
            plan=OuterRef("pk"), organisation__sector=Sector.HOSPITAL
        ).values("organisation_id")[:1]
        plans = (
            PathwayPlan.objects.filter(patient__family_name__startswith="Syn-")
            .filter(~Exists(HospitalStay.objects.filter(plan=OuterRef("pk"))))
            .exclude(coordinator__isnull=True)
            .annotate(hospital_id=hospital)
            .order_by("pk")
            .values_list(
                "pk",
                "patient_id",
                "patient__birth_date",
                "patient__home_municipality",
                "patient__general_practice_id",
                "hospital_id",
                "coordinator_id",
            )
        )
        today = timezone.localdate()
        now = timezone.now()
        total, last = 0, 0
        while True:
            batch = list(plans.filter(pk__gt=last)[:BATCH])
            if not batch:
                break
            last = batch[-1][0]
            synthetic: list[demo.SyntheticPlan] = []
            backgrounds: list[dict[str, Any]] = []
            for plan_id, patient_id, born, municipality, gp_id, hospital_id, staff_id in batch:
                if hospital_id is None or gp_id is None or municipality not in home_nursing:
                    continue
                known = rng.random() > 0.04
                education = ""
                if known:
                    education, employment, income = demo.synthetic_background(
                        rng, birth_date=born, today=today
                    )
                    backgrounds.append(
                        {
                            "patient_id": patient_id,
                            "education": education,
                            "employment": employment,
                            "income": income,
                            "legal_basis": LegalBasis.SYNTHETIC,
                            "source": demo.SYNTHETIC_SOURCE,
                            "recorded_at": now,
                        }
                    )
                synthetic.append(
                    demo.SyntheticPlan(
                        plan_id=plan_id,
                        patient_id=patient_id,
                        birth_date=born,
                        # seed_synthetic's plans are made today: their history starts 15 months back.
                        started=now - timedelta(days=demo.HISTORY_DAYS + rng.randint(0, 90)),
                        hospital_id=hospital_id,
                        home_nursing_id=home_nursing[municipality],
                        rehabilitation_id=rehabilitation.get(municipality, home_nursing[municipality]),
                        gp_id=gp_id,
                        staff_id=staff_id,
                        education=education,
                        lean=(int(municipality) % 7 - 3) / 100,
                    )
                )
            with transaction.atomic(), demo.triggers_skipped():
                demo.copy_rows(SocialBackground, backgrounds)
                demo.synthetic_history(rng, synthetic, now=now)
            total += len(synthetic)
            rate = total / max(time.monotonic() - started, 0.001)
            self.stdout.write(f"  {total:>8} patients given quality data  ({rate:,.0f} patients/s)")
        demo.analyze(demo.synthetic_tables())
        self.stdout.write(
            self.style.SUCCESS(f"Done in {time.monotonic() - started:.1f} s ({total} patients)")
        )
