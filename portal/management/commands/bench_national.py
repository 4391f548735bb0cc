"""`manage.py bench_national`: the pages that must stay flat as the country's plans grow, timed on the
current database, each beside its SQL floor.

For the synthetic data set (seed_synthetic and the apps' seed_synthetic_* commands), it requests each
page `--repeat` times in-process (middleware, access policy, access log, templates — everything but the
network) as the person who uses it, and times one hand-written SQL query that fetches what the page
shows (the floor):

- the caseload and a plan page, as a home-nursing clinician (the plan: the middle one of her caseload);
- the worklist, as a coordinator of that home-nursing unit (about 100 plans, whatever the country's size);
- another plan's "who has opened the plan" page, as its coordinator, and that patient's own access log in
  the portal (another plan: each request for the plan page adds to its patient's log);
- the portal's plan page, as the patient;
- the quality dashboard, as a quality user (on the summary table: `--refresh` or `--refresh-only` makes it,
  as the nightly job does).

`--save FILE` writes the figures as JSON; `--compare SMALL LARGE` prints, for each page, the time at both
sizes, their ratio (the goal: ≤ 1.2×), the query counts and the ratio to the floor at the larger size (the
product's goal: 3×). Figures are printed, never asserted: query counts are asserted in the test suite.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pathways import access
from pathways.choices import PLAN_OPEN_STATUSES
from pathways.management.benchmark import CASELOAD_FLOOR_SQL, PLAN_FLOOR_SQL, p95, timed
from pathways.models import PathwayPlan, Patient, User
from portal.choices import SignInMethod
from portal.signin import portal_session_start
from quality import reports, summaries
from quality.choices import Period, RefreshState
from quality.management.commands.bench_quality import FLOOR_SQL as DASHBOARD_FLOOR_SQL
from quality.management.commands.bench_quality import bench_quality_user

CLINICIAN = "syn-syn-k265-hs"
COORDINATOR = "syn-syn-k265-hs-k0"

WORKLIST_FLOOR_SQL = """
SELECT p.public_id, pa.given_name, pa.family_name, t.public_id, t.title, t.due_date, t.status, o.name
FROM pathways_pathwayplan p
JOIN pathways_patient pa ON pa.id = p.patient_id
JOIN pathways_task t ON t.plan_id = p.id
JOIN pathways_organisation o ON o.id = t.responsible_organisation_id
WHERE p.coordinator_id = %(user)s AND p.status IN ('draft', 'active', 'on_hold')
  AND t.status IN ('requested', 'accepted', 'in_progress', 'on_hold')
  AND t.due_date <= %(week)s
ORDER BY t.due_date, t.id
"""

# The staff page: every read of the patient, newest first, 50 to a page, with how many there are.
ACCESS_LOG_FLOOR_SQL = """
SELECT a.at, a.action, a.purpose, u.first_name, u.last_name, o.name,
       (SELECT count(*) FROM pathways_accesslog c WHERE c.patient_id = %(patient)s)
FROM pathways_accesslog a
LEFT JOIN pathways_user u ON u.id = a.actor_id
LEFT JOIN pathways_organisation o ON o.id = a.organisation_id
WHERE a.patient_id = %(patient)s
ORDER BY a.at DESC
LIMIT 50
"""

# The portal's: the same of the last two years.
PORTAL_ACCESS_LOG_FLOOR_SQL = """
SELECT a.at, a.action, a.purpose, u.first_name, u.last_name, o.name,
       (SELECT count(*) FROM pathways_accesslog c WHERE c.patient_id = %(patient)s AND c.at >= %(since)s)
FROM pathways_accesslog a
LEFT JOIN pathways_user u ON u.id = a.actor_id
LEFT JOIN pathways_organisation o ON o.id = a.organisation_id
WHERE a.patient_id = %(patient)s AND a.at >= %(since)s
ORDER BY a.at DESC
LIMIT 50
"""

PORTAL_PLAN_FLOOR_SQL = """
SELECT p.title, p.what_matters, cu.first_name, cu.last_name, t.public_id, t.title, t.kind, t.status,
       t.due_date, t.window_start, o.name
FROM pathways_pathwayplan p
LEFT JOIN pathways_user cu ON cu.id = p.coordinator_id
LEFT JOIN pathways_task t ON t.plan_id = p.id AND t.visible_to_patient
LEFT JOIN pathways_organisation o ON o.id = t.responsible_organisation_id
WHERE p.id = %(plan)s
ORDER BY t.due_date, t.id
"""


@dataclass(frozen=True)
class Page:
    name: str
    queries: int
    median_ms: float
    p95_ms: float
    floor_ms: float

    @property
    def floor_ratio(self) -> float:
        return self.median_ms / self.floor_ms


@dataclass(frozen=True)
class Measure:
    """One page as its user asks for it, and the SQL that fetches what it shows."""

    name: str
    client: Client
    url: str
    floor_sql: str
    floor_params: dict[str, Any]


class Command(BaseCommand):
    help = "Time the pages that must stay flat with the country's data, each beside its SQL floor."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--repeat", type=int, default=30)
        parser.add_argument("--save", type=Path, help="write the figures to this JSON file")
        parser.add_argument(
            "--refresh",
            action="store_true",
            help="refresh the quality summary first (the nightly job's work)",
        )
        parser.add_argument(
            "--refresh-only", action="store_true", help="refresh the quality summary, no pages"
        )
        parser.add_argument(
            "--compare",
            nargs=2,
            type=Path,
            metavar=("SMALL", "LARGE"),
            help="print two saved runs side by side",
        )

    def handle(
        self,
        *args: Any,
        repeat: int,
        save: Path | None,
        compare: list[Path] | None,
        refresh: bool,
        refresh_only: bool,
        **options: Any,
    ) -> None:
        if compare:
            self._compare(*compare)
            return
        patients = Patient.objects.count()
        if refresh or refresh_only:
            started = time.perf_counter()
            done = summaries.refresh_now()
            if done.state != RefreshState.DONE:
                raise CommandError(f"The quality summary refresh ended {done.state}: {done.error}")
            self.stdout.write(f"Quality summary refreshed in {time.perf_counter() - started:,.0f} s")
            if refresh_only:
                return
        measures = self._measures()
        # One request of each page first: the access logs then hold the reads of both kinds of reader
        # (staff, the patient) at every size, whichever pages an earlier run asked for, so their pages
        # run the same queries everywhere.
        for measure in measures:
            self._get(measure)
        pages = [self._time(measure, repeat) for measure in measures]
        self.stdout.write(
            f"{'patients':>10} {'page':<22} {'queries':>7} {'median ms':>10} {'p95 ms':>8} {'floor ms':>9} "
            f"{'× floor':>8}"
        )
        for page in pages:
            self.stdout.write(
                f"{patients:>10,} {page.name:<22} {page.queries:>7} {page.median_ms:>10.1f} "
                f"{page.p95_ms:>8.1f} {page.floor_ms:>9.2f} {page.floor_ratio:>7.1f}×"
            )
        if save:
            save.write_text(
                json.dumps({"patients": patients, "pages": [asdict(page) for page in pages]}, indent=2)
            )

    def _measures(self) -> list[Measure]:
        clinician = User.objects.filter(username=CLINICIAN).first()
        coordinator = User.objects.filter(username=COORDINATOR).first()
        if clinician is None or coordinator is None:
            raise CommandError("No synthetic users: run seed_synthetic first.")
        caseload = access.plans_visible_to(clinician).filter(status__in=PLAN_OPEN_STATUSES).order_by("id")
        size = caseload.count()
        plan = caseload[size // 2]
        # The access logs are another patient's: every request for the plan page writes a row in the plan's
        # patient's log, which would soon be most of it. (This one's grows by the log pages' own reads, about
        # 35 rows a run of the benchmark, beside the synthetic history's `--reads-per-month`.)
        logged = caseload[size // 3]
        today = timezone.localdate()
        staff, worklist_user, plan_coordinator, quality_user = Client(), Client(), Client(), Client()
        staff.force_login(clinician)
        worklist_user.force_login(coordinator)
        if logged.coordinator is None:
            raise CommandError(
                f"The plan {logged.public_id} has no coordinator: seed_synthetic gives each one."
            )
        plan_coordinator.force_login(logged.coordinator)  # the page is the coordinator's
        quality_user.force_login(bench_quality_user())
        patient, logged_patient = self._portal_client(plan), self._portal_client(logged)
        first, last = reports.default_range(by=Period.QUARTER, today=today)
        log_since = timezone.now() - timedelta(days=365 * settings.PORTAL_ACCESS_LOG_YEARS)
        org_ids = list(access.active_organisation_ids(clinician))
        return [
            Measure(
                "caseload", staff, reverse("pathways:caseload"), CASELOAD_FLOOR_SQL,
                {"orgs": org_ids, "today": today},
            ),
            Measure(
                "plan", staff, reverse("pathways:plan-detail", args=[plan.public_id]), PLAN_FLOOR_SQL,
                {"plan": plan.pk},
            ),
            Measure(
                "worklist", worklist_user, reverse("coordination:worklist"), WORKLIST_FLOOR_SQL,
                {"user": coordinator.pk, "week": today + timedelta(days=7)},
            ),
            Measure(
                "plan access log", plan_coordinator,
                reverse("pathways:plan-access-log", args=[logged.public_id]), ACCESS_LOG_FLOOR_SQL,
                {"patient": logged.patient_id},
            ),
            Measure(
                "portal plan", patient, reverse("portal:plan", args=[plan.public_id]), PORTAL_PLAN_FLOOR_SQL,
                {"plan": plan.pk},
            ),
            Measure(
                "portal access log", logged_patient, reverse("portal:access-log", args=[logged.public_id]),
                PORTAL_ACCESS_LOG_FLOOR_SQL, {"patient": logged.patient_id, "since": log_since},
            ),
            Measure(
                "quality dashboard", quality_user, reverse("quality:dashboard"), DASHBOARD_FLOOR_SQL,
                {"first": first, "last": last},
            ),
        ]  # fmt: skip

    def _portal_client(self, plan: PathwayPlan) -> Client:
        _session, key = portal_session_start(method=SignInMethod.LINK_AND_CODE, patient=plan.patient)
        client = Client()
        client.cookies[settings.PORTAL_SESSION_COOKIE] = key
        return client

    def _get(self, measure: Measure) -> None:
        response = measure.client.get(measure.url)
        if response.status_code != 200:
            raise CommandError(f"{measure.name}: {measure.url} answered {response.status_code}")

    def _time(self, measure: Measure, repeat: int) -> Page:
        def page() -> None:
            self._get(measure)

        def floor() -> None:
            with connection.cursor() as cursor:
                cursor.execute(measure.floor_sql, measure.floor_params)
                cursor.fetchall()

        page()  # the first request of a session does more (e.g. the portal's session start)
        with CaptureQueriesContext(connection) as ctx:
            page()
        queries = len(ctx.captured_queries)  # now: the next request empties the query log
        served, floored = timed(page, repeat), timed(floor, repeat)
        return Page(
            name=measure.name,
            queries=queries,
            median_ms=statistics.median(served),
            p95_ms=p95(served),
            floor_ms=statistics.median(floored),
        )

    def _compare(self, small_file: Path, large_file: Path) -> None:
        small, large = (json.loads(path.read_text()) for path in (small_file, large_file))
        before, after = ({page["name"]: page for page in run["pages"]} for run in (small, large))
        self.stdout.write(
            f"{'page':<22} {small['patients']:>10,} {large['patients']:>10,} {'ratio':>7} {'queries':>9} "
            f"{'floor ms':>9} {'× floor':>8}"
        )
        for name, page in after.items():
            then = before.get(name)
            if then is None:
                continue
            self.stdout.write(
                f"{name:<22} {then['median_ms']:>8.1f}ms {page['median_ms']:>8.1f}ms "
                f"{page['median_ms'] / then['median_ms']:>6.2f}× {then['queries']:>4}/{page['queries']:<4} "
                f"{page['floor_ms']:>9.2f} {page['median_ms'] / page['floor_ms']:>7.1f}×"
            )
