"""`manage.py bench_fhir`: the plan as a FHIR Bundle (GET /api/v1/plans/<id>/fhir/) for a plan of `--tasks`
tasks, beside its SQL floor.

It gives an active plan `--tasks` tasks in all (copies of its own, every fifth waiting for the one before),
then `--repeat` times, alternately:
- the export through the API as its coordinator would get it (access check, access-log row, the Bundle with
  what every app adds, JSON), in-process through Django's test client;
- the SQL floor: the same SQL statements the export ran, run again on the same connection and fetched.
It prints the medians, their ratio, the number of queries and the Bundle's size. The added tasks are
deleted again; the exports' access-log rows stay (the log is append-only). Figures are printed, never
asserted.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pathways.choices import PlanStatus
from pathways.management.plan_growth import plan_grow, plan_shrink
from pathways.models import PathwayPlan


class Command(BaseCommand):
    help = "Time the FHIR export of a plan with many tasks beside its SQL floor (prints only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tasks", type=int, default=200, help="tasks in the exported plan")
        parser.add_argument("--repeat", type=int, default=15, help="exports (and floors) timed")

    def handle(self, *args: Any, tasks: int, repeat: int, **options: Any) -> None:
        plan = (
            PathwayPlan.objects.filter(
                status=PlanStatus.ACTIVE, coordinator__isnull=False, tasks__isnull=False
            )
            .distinct()
            .order_by("pk")
            .first()
        )
        coordinator = plan.coordinator if plan is not None else None
        if plan is None or coordinator is None:
            raise CommandError(
                "No active plan with a coordinator and tasks: run seed_synthetic or seed_demo."
            )
        added = plan_grow(plan, tasks)
        try:
            client = Client()
            client.force_login(coordinator)
            url = reverse("api:plan-fhir", args=[plan.public_id])
            client.get(url)  # warm: templates of nothing, content types, the session
            exports, floors = [], []
            queries: list[str] = []
            size = 0
            for _ in range(repeat):
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    response = client.get(url)
                    exports.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise CommandError(f"The export answered {response.status_code}.")
                size = len(response.content)
                queries = [query["sql"] for query in captured.captured_queries]
                floors.append(self._floor(queries))
            export_ms, floor_ms = statistics.median(exports), statistics.median(floors)
            self.stdout.write("FHIR export of one plan (GET /api/v1/plans/<id>/fhir/) beside its SQL floor")
            self.stdout.write(
                f"  {'tasks':>5} {'queries':>7} {'kB':>6} {'export ms':>10} {'floor ms':>9} {'ratio':>6}"
            )
            self.stdout.write(
                f"  {plan.tasks.count():>5} {len(queries):>7} {size / 1024:>6.0f} {export_ms:>10.1f} "
                f"{floor_ms:>9.1f} {export_ms / floor_ms:>5.1f}×"
            )
        finally:
            plan_shrink(added)

    def _floor(self, queries: list[str]) -> float:
        """The statements of one export, run again and fetched: milliseconds. Writes (the access-log row,
        the session) are left out: the floor is what reading the plan costs."""
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for sql in queries:
                statement = sql.lstrip().upper()
                if (
                    statement.startswith("SELECT")
                    and "INSERT" not in statement
                    and "SET_CONFIG" not in statement
                ):
                    cursor.execute(sql)
                    cursor.fetchall()
        return (time.perf_counter() - started) * 1000
