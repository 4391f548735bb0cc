"""`manage.py bench_outbox`: the outbox sweep against the raw SQL batch claim it is built on.

It writes `--rows` due in-app messages (the channel that sends nothing: a null channel), then
1. claims them all with the bare statement — `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED
   LIMIT n) RETURNING` — batch after batch, and times it (the floor: claiming only);
2. puts them back and runs `outbox.deliver_due`, the code the Celery worker runs, which claims, delivers
   and records each row as sent, and times that.
It prints rows per second for both and their ratio, then deletes its rows. Figures are printed, never
asserted.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone

from pathways import outbox
from pathways.models import Notification, PathwayPlan, User

_INSERT_SQL = """
INSERT INTO pathways_notification
       (public_id, dedupe_key, kind, channel, recipient_type_id, recipient_id, plan_id, task_id, due_at,
        state, attempts, last_error, created_at)
SELECT gen_random_uuid(), 'bench|' || g, 'task_assigned', 'in_app', %(ct)s, %(user)s, %(plan)s, NULL,
       %(due)s, 'pending', 0, '', %(due)s
  FROM generate_series(1, %(rows)s) AS g
"""

_RESET_SQL = """
UPDATE pathways_notification SET state = 'pending', attempts = 0, lease_until = NULL, sent_at = NULL
 WHERE dedupe_key LIKE 'bench|%%'
"""

_RAW_CLAIM_SQL = """
UPDATE pathways_notification SET state = 'sending', attempts = attempts + 1, lease_until = %(lease)s
 WHERE id IN (SELECT id FROM pathways_notification
               WHERE state = 'pending' AND due_at <= %(now)s
               ORDER BY due_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
RETURNING id
"""


class Command(BaseCommand):
    help = "Time the outbox sweep against a raw SQL batch claim on the same rows (prints, never asserts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, default=100_000)
        parser.add_argument("--batch", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        rows, batch = options["rows"], options["batch"]
        plan = PathwayPlan.objects.order_by("pk").first()
        user = User.objects.order_by("pk").first()
        if plan is None or user is None:
            raise CommandError("Needs one plan and one user: run seed_demo or seed_synthetic first.")
        if Notification.objects.filter(state="pending", due_at__lte=timezone.now()).exists():
            raise CommandError("Due messages are waiting in the outbox; the benchmark would send them.")
        due = timezone.now() - timedelta(minutes=1)
        params = {"ct": ContentType.objects.get_for_model(User).pk, "user": user.pk, "plan": plan.pk}
        with connection.cursor() as cursor:
            cursor.execute(_INSERT_SQL, {**params, "due": due, "rows": rows})
            cursor.execute("ANALYZE pathways_notification")
        try:
            raw = self._raw_claim(batch)
            with connection.cursor() as cursor:
                cursor.execute(_RESET_SQL)
                cursor.execute("ANALYZE pathways_notification")
            started = time.perf_counter()
            delivered = outbox.deliver_due(batch=batch)
            product = rows / (time.perf_counter() - started)
        finally:
            Notification.objects.filter(dedupe_key__startswith="bench|").delete()
        if delivered != rows:
            raise CommandError(f"deliver_due delivered {delivered} of {rows} rows")
        self.stdout.write(f"outbox sweep: {rows} due rows, batches of {batch}, null channel (in-app)")
        self.stdout.write(f"  raw SQL batch claim         {raw:10.0f} rows/s  (claim only)")
        self.stdout.write(f"  outbox.deliver_due (worker) {product:10.0f} rows/s  (claim, deliver, record)")
        self.stdout.write(f"  ratio                       {product / raw:10.2f}  (goal ≥ 0.50)")

    def _raw_claim(self, batch: int) -> float:
        claimed = 0
        started = time.perf_counter()
        with connection.cursor() as cursor:
            while True:
                now = timezone.now()
                cursor.execute(_RAW_CLAIM_SQL, {"now": now, "lease": now + outbox.LEASE, "limit": batch})
                got = len(cursor.fetchall())
                if not got:
                    break
                claimed += got
        return claimed / (time.perf_counter() - started)
