"""`manage.py bench_pages`: server time of the caseload and plan pages against their SQL floor.

For the current database (grow it with seed_synthetic) it signs in a municipal home-nursing user,
requests each page `--repeat` times in-process (middleware, access policy, access log, templates —
everything but the network), and times one hand-written SQL query that fetches the same rows (the
floor). It prints median and p95 for both, their ratio, and the page's query count. Figures are printed,
never asserted: speed is watched here, query counts are asserted in the test suite.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pathways import access
from pathways.management.benchmark import CASELOAD_FLOOR_SQL, PLAN_FLOOR_SQL, p95, timed
from pathways.models import Patient, User


class Command(BaseCommand):
    help = "Time the caseload and plan pages against their SQL floor on the current database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--repeat", type=int, default=40)
        parser.add_argument(
            "--user", default="syn-syn-k265-hs", help="a home-nursing user from seed_synthetic"
        )
        parser.add_argument("--header", action="store_true", help="print the table header first")

    def handle(self, *args: Any, repeat: int, user: str, header: bool, **options: Any) -> None:
        actor = User.objects.filter(username=user).first()
        if actor is None:
            raise CommandError(f"No user {user!r}: run seed_synthetic first.")
        patients = Patient.objects.count()
        org_ids = list(access.active_organisation_ids(actor))
        visible = access.plans_visible_to(actor).order_by("id")
        caseload_size = visible.count()
        plan = visible[caseload_size // 2]
        task_count = plan.tasks.count()

        client = Client()
        client.force_login(actor)
        caseload_url = reverse("pathways:caseload")
        plan_url = reverse("pathways:plan-detail", args=[plan.public_id])

        def page(url: str) -> Callable[[], None]:
            def get() -> None:
                response = client.get(url)
                if response.status_code != 200:
                    raise CommandError(f"{url} answered {response.status_code}")

            return get

        def floor(sql: str, params: dict[str, Any]) -> Callable[[], None]:
            def run() -> None:
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    cursor.fetchall()

            return run

        rows = []
        pages: list[tuple[str, str, str, dict[str, Any]]] = [
            ("caseload", caseload_url, CASELOAD_FLOOR_SQL, {"orgs": org_ids, "today": timezone.localdate()}),
            ("plan", plan_url, PLAN_FLOOR_SQL, {"plan": plan.pk}),
        ]
        for name, url, sql, params in pages:
            with CaptureQueriesContext(connection) as ctx:
                page(url)()
            queries = len(ctx.captured_queries)  # read now: later requests reset the query log
            served = timed(page(url), repeat)
            floored = timed(floor(sql, params), repeat)
            rows.append((name, queries, served, floored))

        if header:
            self.stdout.write(
                f"{'patients':>9} {'page':<9} {'rows':>6} {'queries':>7} {'median ms':>10} {'p95 ms':>8} "
                f"{'floor ms':>9} {'floor p95':>9} {'ratio':>6}"
            )
        for name, queries, served, floored in rows:
            size = caseload_size if name == "caseload" else task_count
            median, floor_median = statistics.median(served), statistics.median(floored)
            self.stdout.write(
                f"{patients:>9,} {name:<9} {size:>6} {queries:>7} {median:>10.1f} {p95(served):>8.1f} "
                f"{floor_median:>9.2f} {p95(floored):>9.2f} {median / floor_median:>5.1f}×"
            )
