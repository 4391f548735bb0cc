"""`manage.py loadtest --url URL`: signed-in users driven against a running server (make loadtest starts
gunicorn as docker-compose does, on loopback, over the synthetic data set), bounded in time.

For the plan page and the caseload (a home-nursing clinician), the portal's plan page (patients) and a bare
Django view beside them (config.loadtest: the same middleware and session read, one query), it runs locust
headless with 1, 4 and 16 concurrent users (`--users`) for `--seconds` each, every user asking again as soon
as it has its answer, and prints requests per second, p50 and p95 (locust's own figures), failures, and
each page's throughput as a share of the bare view's at the same number of users (the product's goal for
the plan page: at least 0.5). Then the memory (resident set) of the server's worker processes
(`--web-parent`: gunicorn's master) and of a Celery worker (`--celery-parent`).

Sessions are made beforehand, as a sign-in would make them (the second step passed where the account
needs it), so the figures are of the pages, not of signing in.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from pathways import access
from pathways.choices import PLAN_OPEN_STATUSES
from pathways.models import User
from pathways.signin import policy
from portal.choices import SignInMethod
from portal.signin import portal_session_start

CLINICIAN = "syn-syn-k265-hs"
LOCUSTFILE = Path(settings.BASE_DIR) / "loadtest" / "locustfile.py"
PAGES = ["bare view", "plan", "caseload", "portal plan"]
# How many sessions (and plans) the users of a page are spread over.
SPREAD = 16


@dataclass(frozen=True)
class Run:
    page: str
    users: int
    requests: int
    failures: int
    per_second: float
    p50_ms: float
    p95_ms: float


class Command(BaseCommand):
    help = "Drive signed-in users against a running server and print throughput and latency per page."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8765")
        parser.add_argument("--users", default="1 4 16", help="the numbers of concurrent users")
        parser.add_argument("--seconds", type=int, default=20, help="how long each run lasts")
        parser.add_argument("--web-parent", type=int, help="gunicorn's master process")
        parser.add_argument("--celery-parent", type=int, help="a Celery worker's main process")

    def handle(
        self,
        *args: Any,
        url: str,
        users: str,
        seconds: int,
        web_parent: int | None,
        celery_parent: int | None,
        **options: Any,
    ) -> None:
        counts = [int(n) for n in users.split()]
        with tempfile.TemporaryDirectory() as work:
            sessions = Path(work) / "sessions.json"
            sessions.write_text(json.dumps(self._sessions()))
            runs = [self._run(url, page, n, seconds, sessions, Path(work)) for page in PAGES for n in counts]
        bare = {run.users: run.per_second for run in runs if run.page == "bare view"}
        self.stdout.write(
            f"{'page':<13} {'users':>5} {'requests':>9} {'failed':>6} {'per s':>8} {'p50 ms':>7} "
            f"{'p95 ms':>7} {'× bare':>7}"
        )
        for run in runs:
            share = run.per_second / bare[run.users] if bare.get(run.users) else 0.0
            self.stdout.write(
                f"{run.page:<13} {run.users:>5} {run.requests:>9,} {run.failures:>6} {run.per_second:>8.1f} "
                f"{run.p50_ms:>7.0f} {run.p95_ms:>7.0f} {share:>6.2f}×"
            )
        for name, parent in (("web worker (gunicorn)", web_parent), ("Celery worker", celery_parent)):
            if parent:
                sizes = _resident_megabytes(parent)
                self.stdout.write(
                    f"Memory per {name}: {', '.join(f'{size:.0f} MB' for size in sizes)} "
                    f"({len(sizes)} processes, the first the {'master' if 'web' in name else 'main'} one)"
                )

    def _sessions(self) -> dict[str, list[dict[str, str]]]:
        clinician = User.objects.filter(username=CLINICIAN).first()
        if clinician is None:
            raise CommandError(f"No user {CLINICIAN!r}: run seed_synthetic first.")
        plans = list(
            access.plans_visible_to(clinician).filter(status__in=PLAN_OPEN_STATUSES).order_by("id")[:SPREAD]
        )
        staff = [self._staff_session(clinician) for _ in range(SPREAD)]
        cookie = settings.SESSION_COOKIE_NAME
        portal_cookie = settings.PORTAL_SESSION_COOKIE
        return {
            "bare view": [{"cookie": cookie, "key": key, "path": "/loadtest/bare/"} for key in staff],
            "caseload": [
                {"cookie": cookie, "key": key, "path": reverse("pathways:caseload")} for key in staff
            ],
            "plan": [
                {"cookie": cookie, "key": key, "path": reverse("pathways:plan-detail", args=[plan.public_id])}
                for key, plan in zip(staff, plans, strict=False)
            ],
            "portal plan": [
                {
                    "cookie": portal_cookie,
                    "key": portal_session_start(method=SignInMethod.LINK_AND_CODE, patient=plan.patient)[1],
                    "path": reverse("portal:plan", args=[plan.public_id]),
                }
                for plan in plans
            ],
        }

    def _staff_session(self, user: User) -> str:
        """A session as the sign-in leaves it: signed in, the second step passed where it is needed."""
        client = Client()
        client.force_login(user)
        if policy.second_factor_required(user):
            device, _ = TOTPDevice.objects.get_or_create(
                user=user, confirmed=True, defaults={"name": "load test"}
            )
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    def _run(self, url: str, page: str, users: int, seconds: int, sessions: Path, work: Path) -> Run:
        self.stderr.write(f"  {page}: {users} users for {seconds} s")
        prefix = work / f"{page.replace(' ', '-')}-{users}"
        ran = subprocess.run(  # noqa: S603 - our own locustfile, our own arguments
            [
                str(Path(sys.executable).with_name("locust")),
                "-f", str(LOCUSTFILE), "--headless", "--only-summary",
                "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{seconds}s",
                "--host", url, "--csv", str(prefix), "--loglevel", "WARNING",
            ],
            check=False,  # locust exits 1 when a request failed; the failures are in the table
            env={**os.environ, "FF_LOADTEST_SESSIONS": str(sessions), "FF_LOADTEST_PAGE": page},
            capture_output=True,
            text=True,
        )  # fmt: skip
        if not Path(f"{prefix}_stats.csv").exists():
            raise CommandError(f"locust gave no figures for {page}:\n{ran.stderr[-2000:]}")
        with open(f"{prefix}_stats.csv", newline="") as stats:
            total = next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")
        # A failed request is quick and counts in locust's throughput: figures with failures would flatter.
        if int(total["Request Count"]) == 0 or int(total["Failure Count"]) > 0:
            raise CommandError(
                f"{page} with {users} users: {total['Failure Count']} of {total['Request Count']} requests "
                f"failed (is the server up, are the sessions signed in?)\n{ran.stderr[-2000:]}"
            )
        return Run(
            page=page,
            users=users,
            requests=int(total["Request Count"]),
            failures=int(total["Failure Count"]),
            per_second=float(total["Requests/s"]),
            p50_ms=float(total["50%"]),
            p95_ms=float(total["95%"]),
        )


def _resident_megabytes(parent: int) -> list[float]:
    """The resident set of a process and its children, in MB (from /proc)."""
    children = Path(f"/proc/{parent}/task/{parent}/children")
    pids = [parent, *(int(pid) for pid in children.read_text().split())] if children.exists() else [parent]
    sizes = []
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes
