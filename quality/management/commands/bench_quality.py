"""`manage.py bench_quality`: the quality dashboard's costs on the current database (grow it with
seed_synthetic, then seed_synthetic_quality).

It times, once or `--repeat` times:
- the summary refresh (`summaries.refresh_now`: what the worker runs — every active indicator's GROUP BY
  over its units, the cells replaced in one transaction each), and the raw indicator queries alone (the
  same GROUP BYs, rows fetched, nothing written: what the dashboard would cost without the summary table);
- the dashboard page (`quality:dashboard`, in-process: middleware, permission, reports, suppression,
  template) signed in as a user with `quality.view_dashboard`, on its own and with one municipality
  chosen (which adds the check against the table of municipalities, `reports.withheld`), beside its SQL
  floor: the one GROUP BY over the summary table the page's numbers come from (the totals per indicator,
  quarter and reporting organisation over the default period), timed bare.

It prints median and p95, the ratio page/floor and the page's query count. Figures are printed, never
asserted.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pathways.management.benchmark import p95, timed
from pathways.models import Patient, User
from quality import indicators, reports, summaries
from quality.choices import Period, RefreshState
from quality.models import Indicator, IndicatorCell

BENCH_USERNAME = "bench-kvalitet"
ROSKILDE = "265"

FLOOR_SQL = """
SELECT indicator_id, date_trunc('quarter', month) AS quarter, organisation_id,
       sum(denominator), sum(numerator), sum(missing), sum(value_sum), sum(value_sumsq)
FROM quality_indicatortotal
WHERE grain = 'organisation' AND month >= %(first)s AND month <= %(last)s
GROUP BY indicator_id, quarter, organisation_id
"""


def bench_quality_user() -> User:
    group, _created = Group.objects.get_or_create(name="Kvalitet (benchmark)")
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="quality", codename="view_dashboard")
    )
    user = User.objects.filter(username=BENCH_USERNAME).first()
    if user is None:
        user = User(username=BENCH_USERNAME, first_name="Benchmark", last_name="Kvalitet")
        user.set_unusable_password()
        user.save()
    user.groups.add(group)
    return user


class Command(BaseCommand):
    help = "Time the quality summary refresh and the dashboard page against their SQL floor."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--repeat", type=int, default=20, help="dashboard and floor requests")
        parser.add_argument("--refresh-repeat", type=int, default=1, help="summary refreshes")
        parser.add_argument("--header", action="store_true", help="print the table header first")

    def handle(self, *args: Any, repeat: int, refresh_repeat: int, header: bool, **options: Any) -> None:
        patients = Patient.objects.count()
        active = list(Indicator.objects.filter(is_active=True))
        if not active:
            raise CommandError("No active indicators: migrate first.")

        refresh_times = []
        for _ in range(refresh_repeat):
            started = time.perf_counter()
            refresh = summaries.refresh_now()
            refresh_times.append((time.perf_counter() - started) * 1000)
            if refresh.state != RefreshState.DONE:
                raise CommandError(f"The refresh ended {refresh.state}: {refresh.error}")
        cells = IndicatorCell.objects.count()

        def raw() -> None:
            moment = timezone.now()
            for indicator in active:
                for _row in indicators.cell_counts(indicator, now=moment):
                    pass

        raw_times = timed(raw, refresh_repeat, warm=0)

        client = Client()
        client.force_login(bench_quality_user())
        url = reverse("quality:dashboard")

        def page(query: dict[str, str] | None = None) -> None:
            response = client.get(url, query or {})
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code}")

        # One municipality chosen: the page also checks the table of municipalities (reports.withheld).
        municipality = {"municipality": ROSKILDE}

        first, last = reports.default_range(by=Period.QUARTER, today=timezone.localdate())

        def floor() -> None:
            with connection.cursor() as cursor:
                cursor.execute(FLOOR_SQL, {"first": first, "last": last})
                cursor.fetchall()

        with CaptureQueriesContext(connection) as ctx:
            page()
        queries = len(ctx.captured_queries)
        with CaptureQueriesContext(connection) as ctx:
            page(municipality)
        filtered_queries = len(ctx.captured_queries)
        served = timed(page, repeat, warm=2)
        filtered = timed(lambda: page(municipality), repeat, warm=2)
        floored = timed(floor, repeat, warm=2)

        if header:
            self.stdout.write(
                f"{'patients':>9} {'what':<28} {'rows':>8} {'queries':>7} {'median ms':>10} {'p95 ms':>9} "
                f"{'floor ms':>9} {'ratio':>7}"
            )
        refresh_median, raw_median = statistics.median(refresh_times), statistics.median(raw_times)
        self.stdout.write(
            f"{patients:>9,} {'summary refresh (all)':<28} {cells:>8,} {'':>7} {refresh_median:>10.0f} "
            f"{max(refresh_times):>9.0f} {raw_median:>9.0f} {refresh_median / raw_median:>6.1f}×"
        )
        median, floor_median = statistics.median(served), statistics.median(floored)
        self.stdout.write(
            f"{patients:>9,} {'dashboard page':<28} {cells:>8,} {queries:>7} {median:>10.1f} "
            f"{p95(served):>9.1f} {floor_median:>9.2f} {median / floor_median:>6.1f}×"
        )
        filtered_median = statistics.median(filtered)
        self.stdout.write(
            f"{patients:>9,} {'  one municipality':<28} {cells:>8,} {filtered_queries:>7} "
            f"{filtered_median:>10.1f} {p95(filtered):>9.1f} {floor_median:>9.2f} "
            f"{filtered_median / floor_median:>6.1f}×"
        )
        self.stdout.write(
            f"{patients:>9,} {'  without the summary':<28} {'':>8} {len(active):>7} {raw_median:>10.0f} "
            f"{max(raw_times):>9.0f} {floor_median:>9.2f} {raw_median / floor_median:>6.0f}×"
        )
