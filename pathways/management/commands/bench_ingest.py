"""`manage.py bench_ingest --url http://127.0.0.1:PORT`: MedCom HospitalNotification ingest against a
running server (make bench starts one with gunicorn).

It issues one integration credential per client for a benchmark hospital, builds `--messages` messages
for the synthetic patients (seed_synthetic) — about 40 % about citizens without a plan, the rest stays
of patients with a plan: admission, for some a leave and its end, discharge — and posts them from
`--clients` concurrent clients (each client sends its patients' stays in order, as a hospital would). It
prints messages per second, the clients' response times (median, p95), what became of the messages, and
p95 from receipt to the participants' notification rows (Notification.created_at − ReceivedMessage
.received_at, over the applied messages). Figures are printed, never asserted. The outbox rows it made
are cancelled afterwards (nothing is sent; the outbox benchmark wants an empty outbox).
"""

from __future__ import annotations

import json
import logging
import random
import statistics
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from pathways import ingest, medcom
from pathways.choices import NotificationState, PlanStatus, Sector, StayClass
from pathways.models import Notification, Organisation, Patient, ReceivedMessage

HOSPITAL = ("990999000000001", "Benchmark-sygehus")
MUNICIPALITY = ("990999000000002", "Benchmark-kommune")
NO_PLAN_SHARE = 0.4

_RECEIPT_TO_NOTIFICATION_SQL = """
SELECT EXTRACT(EPOCH FROM (MAX(n.created_at) - m.received_at))
  FROM pathways_receivedmessage m
  JOIN pathways_transition t ON t.message_id = m.id
  JOIN pathways_notification n ON n.plan_id = t.plan_id AND n.dedupe_key LIKE '%%|transition:' || t.id
 WHERE m.received_at >= %(since)s AND m.sender_id = %(sender)s AND m.state = 'applied'
 GROUP BY m.id, m.received_at
"""


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Command(BaseCommand):
    help = "Post HospitalNotifications from concurrent clients to a running server (prints, never asserts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", required=True, help="The running server, e.g. http://127.0.0.1:8000")
        parser.add_argument("--messages", type=int, default=10_000)
        parser.add_argument("--clients", type=int, default=4)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--header", action="store_true", help="Print the column header first.")

    def handle(self, *args: Any, **options: Any) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
        rng = random.Random(options["seed"])  # noqa: S311 - synthetic data, not security
        clients, total = options["clients"], options["messages"]
        hospital = self._organisation(HOSPITAL, Sector.HOSPITAL)
        self._organisation(MUNICIPALITY, Sector.MUNICIPALITY)
        keys = [
            ingest.credential_issue(actor=None, organisation=hospital, name=f"Benchmark client {n}")[1]
            for n in range(clients)
        ]
        patients = list(
            Patient.objects.filter(plans__status=PlanStatus.ACTIVE)
            .order_by("?")
            .values_list("cpr", "given_name", "family_name")[:total]
        )
        if not patients:
            raise CommandError("Needs patients with plans: run seed_synthetic first.")
        queues = self._messages(rng, patients, total, clients)
        url = options["url"].rstrip("/") + reverse("api:medcom-hospital-notification")
        since = timezone.now()
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        lock = threading.Lock()

        def client(number: int) -> None:
            headers = {"Authorization": f"Bearer {keys[number]}", "Content-Type": medcom.FHIR_JSON}
            with httpx.Client(headers=headers, timeout=60.0) as http:
                for body in queues[number]:
                    started = time.perf_counter()
                    response = http.post(url, content=body)
                    spent = time.perf_counter() - started
                    with lock:
                        latencies.append(spent)
                        statuses[response.status_code] += 1

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        sent = sum(len(queue) for queue in queues)
        states = Counter(
            ReceivedMessage.objects.filter(received_at__gte=since, sender=hospital).values_list(
                "state", flat=True
            )
        )
        with connection.cursor() as cursor:
            cursor.execute(_RECEIPT_TO_NOTIFICATION_SQL, {"since": since, "sender": hospital.pk})
            to_notifications = [float(row[0]) for row in cursor.fetchall()]
        patients_with_plans = Patient.objects.filter(plans__status=PlanStatus.ACTIVE).count()
        # The messages the run wrote to the outbox are not sent: the outbox benchmark wants it empty.
        Notification.objects.filter(created_at__gte=since, state=NotificationState.PENDING).update(
            state=NotificationState.CANCELLED
        )
        if options["header"]:
            self.stdout.write(
                f"{'ingest':<14}{'patients':>10}{'messages':>10}{'clients':>8}{'msg/s':>9}"
                f"{'http p50':>10}{'http p95':>10}{'→notice p95':>13}  states"
            )
        self.stdout.write(
            f"{'medcom':<14}{patients_with_plans:>10}{sent:>10}{clients:>8}{sent / elapsed:>9.1f}"
            f"{statistics.median(latencies) * 1000:>8.1f}ms{_percentile(latencies, 0.95) * 1000:>8.1f}ms"
            f"{_percentile(to_notifications, 0.95) * 1000:>11.1f}ms  "
            + ", ".join(f"{state} {count}" for state, count in sorted(states.items()))
            + (f"  HTTP {dict(statuses)}" if set(statuses) != {200} else "")
        )

    def _organisation(self, sor_and_name: tuple[str, str], sector: Sector) -> Organisation:
        organisation, _created = Organisation.objects.get_or_create(
            sor_code=sor_and_name[0], defaults={"name": sor_and_name[1], "sector": sector}
        )
        return organisation

    def _messages(
        self, rng: random.Random, patients: list[tuple[str, str, str]], total: int, clients: int
    ) -> list[list[bytes]]:
        """`total` messages in `clients` queues: each stay's messages in one queue, in order."""
        queues: list[list[bytes]] = [[] for _ in range(clients)]
        now = timezone.now().replace(microsecond=0)
        made = 0
        stay = 0
        while made < total:
            queue = queues[stay % clients]
            if rng.random() < NO_PLAN_SHARE:
                # A citizen the product does not know (CPR numbers seed_synthetic never makes: digit 7 is 2).
                born = datetime(1930, 1, 1) + timedelta(days=rng.randrange(21900))
                cpr = f"{born:%d%m%y}{2000 + rng.randrange(1000):04d}"
                queue.append(
                    self._message("STIN", stay, cpr, ("Borger", "Uden-plan"), [now - timedelta(hours=6)])
                )
                made += 1
            else:
                cpr, given, family = patients[stay % len(patients)]
                admitted = now - timedelta(hours=rng.randint(30, 70))
                steps = [("STIN", [admitted])]
                if rng.random() < 0.2:
                    leave = admitted + timedelta(hours=10)
                    steps += [
                        ("STOR", [admitted, leave]),
                        ("SLOR", [admitted, leave, leave + timedelta(hours=6)]),
                    ]
                # The discharge after the leave's end (which is at least 14 hours ago).
                steps.append(("SLHJ", [admitted, now - timedelta(hours=rng.randint(1, 10))]))
                for code, times in steps[: total - made]:
                    queue.append(self._message(code, stay, cpr, (given, family), times))
                    made += 1
            stay += 1
        return queues

    def _message(self, code: str, stay: int, cpr: str, name: tuple[str, str], times: list[datetime]) -> bytes:
        admitted = times[0]
        extra: dict[str, Any] = {}
        if code == "STOR":
            extra["leave"] = (times[1], None)
        elif code == "SLOR":
            extra["leave"] = (times[1], times[2])
        elif code == "SLHJ":
            extra["ended_at"] = times[1]
        message = medcom.notification_bundle(
            code=code,
            message_id=f"bench-{stay}-{code.lower()}-{int(time.time() * 1000) % 10**9}",
            sender=HOSPITAL,
            receiver=MUNICIPALITY,
            cpr=cpr,
            given_name=name[0],
            family_name=name[1],
            episode_id=f"bench-forloeb-{stay}",
            admitted_at=admitted,
            sent_at=times[-1],
            stay_class=StayClass.INPATIENT,
            **extra,
        )
        return json.dumps(message).encode("utf-8")
