"""`manage.py bench_documents`: the PDF worker against a bare WeasyPrint render of the same HTML, and
documents per minute with real Celery workers.

1. Render time. It gives an active plan without documents `--tasks` tasks in all (copies of its own, some
   waiting for another), asks for its complete plan for staff and its plan for the patient (the builders
   the apps register), then `--repeat` times, alternately:
   - the worker's render, `documents.document_render` (what the Celery task runs: claim, WeasyPrint with
     progress reports, PDF and "done" stored in one UPDATE), the row put back to "queued" before each;
   - a bare WeasyPrint render of the same stored HTML: `HTML(string=…, base_url=static/).write_pdf()` with
     the same PDF options (PDF/UA), so both make the same PDF.
   It prints the medians and their ratio (the product's goal: ≤ 1.3×).
2. Throughput. For 1 and 2 worker processes (`celery -A config worker -c N`, started here against the same
   database and Redis, stopped again) it asks for the patient plans of `--documents` other plans at once,
   after a warm-up of two per process, and prints documents per minute from the first render's start to
   the last one's end, how many renders ran at once on average and the median render time (on a machine
   busy with other work, a second process renders in parallel but not faster).
Everything it made (documents, the added tasks) is deleted again. Figures are printed, never asserted.
"""

from __future__ import annotations

import gc
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import Max, Min

from pathways import documents, extensions
from pathways.choices import DocumentKind, DocumentState, PlanStatus
from pathways.management.plan_growth import plan_grow, plan_shrink
from pathways.models import PathwayPlan, PlanDocument

WAIT_SECONDS = 600  # the longest any one wait for workers may take


class Command(BaseCommand):
    help = "Time the PDF worker against a bare WeasyPrint render, and documents per minute (prints only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tasks", type=int, default=200, help="tasks in the plan whose render is timed")
        parser.add_argument("--repeat", type=int, default=3, help="renders of each kind, worker and bare")
        parser.add_argument("--documents", type=int, default=40, help="documents per worker count")
        parser.add_argument("--workers", default="1,2", help="worker process counts to measure")

    def handle(
        self, *args: Any, tasks: int, repeat: int, documents: int, workers: str, **options: Any
    ) -> None:
        for kind in (DocumentKind.STAFF, DocumentKind.PATIENT):
            if kind not in extensions.DOCUMENT_BUILDERS:
                raise CommandError(f"No document builder for {kind}: is its app installed?")
        counts = [int(n) for n in workers.split(",") if n.strip()]
        needed = 1 + documents * len(counts) + 2 * sum(counts)  # the timed plan, the measured, the warm-ups
        fresh = list(
            PathwayPlan.objects.filter(status=PlanStatus.ACTIVE, documents__isnull=True, tasks__isnull=False)
            .distinct()
            .order_by("pk")
            .values_list("pk", flat=True)[:needed]
        )
        if len(fresh) < needed:
            raise CommandError("Not enough active plans without documents: run seed_synthetic first.")
        plan = PathwayPlan.objects.get(pk=fresh[0])
        added = plan_grow(plan, tasks)
        made: list[int] = []
        try:
            self.stdout.write(
                "printable plans (PDF): the worker's render (claim → stored) beside a bare WeasyPrint render "
                "of the same HTML (same PDF options)"
            )
            self.stdout.write(
                f"  {'document':<14} {'tasks':>5} {'pages':>5} {'worker ms':>10} {'bare ms':>9} {'ratio':>6}"
            )
            for kind, label in ((DocumentKind.STAFF, "staff plan"), (DocumentKind.PATIENT, "patient plan")):
                worker_ms, bare_ms, pages, pk = self._render_times(plan, kind, repeat)
                made.append(pk)
                self.stdout.write(
                    f"  {label:<14} {plan.tasks.count():>5} {pages:>5} {worker_ms:>10.0f} {bare_ms:>9.0f} "
                    f"{worker_ms / bare_ms:>5.2f}×  (goal ≤ 1.30)"
                )
            self.stdout.write(
                f"  documents per minute (plans for the patient, {documents} at once, real Celery workers)"
            )
            self.stdout.write(
                f"  {'workers':>7} {'documents':>9} {'per minute':>10} {'vs one':>7} {'at once':>8} "
                f"{'ms each':>8}"
            )
            others = fresh[1:]
            single: float | None = None
            for count in counts:
                warm, others = others[: 2 * count], others[2 * count :]
                measured, others = others[:documents], others[documents:]
                rate, at_once, each_ms = self._throughput(count, warm, measured, made)
                single = single or rate
                self.stdout.write(
                    f"  {count:>7} {len(measured):>9} {rate:>10.1f} {rate / single:>6.2f}× {at_once:>8.1f} "
                    f"{each_ms:>8.0f}"
                )
        finally:
            PlanDocument.objects.filter(pk__in=made).delete()
            plan_shrink(added)

    def _render_times(
        self, plan: PathwayPlan, kind: DocumentKind, repeat: int
    ) -> tuple[float, float, int, int]:
        from weasyprint import HTML

        with transaction.atomic():
            document = documents.document_request(plan=plan, kind=kind, requester=None)
        html = PlanDocument.objects.values_list("html", flat=True).get(pk=document.pk)
        base = documents.ASSETS.as_uri() + "/"
        queued = PlanDocument.objects.filter(pk=document.pk)
        times: dict[str, list[float]] = {"worker": [], "bare": []}

        def worker() -> None:
            queued.update(
                state=DocumentState.QUEUED, pdf=None, pages=None, size=None, progress=0, attempts=0,
                finished_at=None, lease_until=None,
            )  # fmt: skip
            started = time.perf_counter()
            if not documents.document_render(document.pk):
                raise CommandError(f"the worker did not render {kind}")
            times["worker"].append((time.perf_counter() - started) * 1000)

        def bare() -> None:
            started = time.perf_counter()
            HTML(string=html, base_url=base).write_pdf(**documents.PDF_OPTIONS)
            times["bare"].append((time.perf_counter() - started) * 1000)

        bare()  # warm: imports, fonts
        times["bare"].clear()
        for n in range(repeat):
            # Each after a garbage collection, in turns: neither pays for the other's leftovers.
            for render in (worker, bare) if n % 2 == 0 else (bare, worker):
                gc.collect()
                render()
        pages = queued.values_list("pages", flat=True).get() or 0
        return statistics.median(times["worker"]), statistics.median(times["bare"]), pages, document.pk

    def _throughput(
        self, count: int, warm: list[int], measured: list[int], made: list[int]
    ) -> tuple[float, float, float]:
        """Documents per minute from the first render's start to the last one's end; how many renders ran
        at once on average (the workers' render time over that span); the median render time."""
        current_app.control.purge()  # requests left from the timed renders above
        worker = self._start_worker(count)
        try:
            warmed = self._ask(warm, made)
            self._wait_done(warmed, worker)
            asked = self._ask(measured, made)
            self._wait_done(asked, worker)
        finally:
            self._stop(worker)
        rendered = PlanDocument.objects.filter(pk__in=asked)
        span = rendered.aggregate(first=Min("started_at"), last=Max("finished_at"))
        seconds: float = (span["last"] - span["first"]).total_seconds()
        each = [
            (done - start).total_seconds()
            for start, done in rendered.values_list("started_at", "finished_at")
            if start is not None and done is not None  # every one, once done
        ]
        return len(asked) / seconds * 60, sum(each) / seconds, statistics.median(each) * 1000

    def _ask(self, plan_ids: Iterable[int], made: list[int]) -> list[int]:
        """Ask for the plans' patient documents in one transaction: the workers get them all at once."""
        with transaction.atomic():
            asked = [
                documents.document_request(plan=plan, kind=DocumentKind.PATIENT, requester=None).pk
                for plan in PathwayPlan.objects.filter(pk__in=list(plan_ids)).select_related("patient")
            ]
        made.extend(asked)
        return asked

    def _wait_done(self, ids: list[int], worker: subprocess.Popen[bytes]) -> None:
        rows = PlanDocument.objects.filter(pk__in=ids)
        deadline = time.monotonic() + WAIT_SECONDS
        while rows.exclude(state__in=[DocumentState.DONE, DocumentState.FAILED]).exists():
            if worker.poll() is not None:
                raise CommandError("the Celery worker stopped")
            if time.monotonic() > deadline:
                raise CommandError(f"the workers did not render {len(ids)} documents in {WAIT_SECONDS} s")
            time.sleep(0.1)
        if rows.filter(state=DocumentState.FAILED).exists():
            raise CommandError("a document failed to render")

    def _start_worker(self, count: int) -> subprocess.Popen[bytes]:
        """`celery worker` with `count` processes, against this database and Redis."""
        env = os.environ | {
            "PGDATABASE": str(connection.settings_dict["NAME"]),
            # make bench runs as whoever calls it, root in a container: not worth a warning per worker.
            "PYTHONWARNINGS": "ignore:You're running the worker with superuser privileges",
        }
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-c", str(count),
                   "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
                   "-n", f"bench-documents-{count}@%h"]  # fmt: skip
        return subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            command, cwd=settings.BASE_DIR, env=env, start_new_session=True, stdout=subprocess.DEVNULL
        )

    def _stop(self, worker: subprocess.Popen[bytes]) -> None:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
