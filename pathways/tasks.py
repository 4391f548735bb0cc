"""Celery tasks of the hub: thin wrappers, one outbox call each, safe to run twice or in parallel.

`acks_late`: a task lost with its worker runs again, which is harmless here (every call claims rows
atomically). Nothing is scheduled with `eta`/`countdown`: due times live in the outbox rows.
"""

from __future__ import annotations

from celery import shared_task

from pathways import outbox

# Well inside the soft time limit (CELERY_TASK_SOFT_TIME_LIMIT): what is left goes in the next run.
DELIVERY_BUDGET_SECONDS = 150.0


@shared_task(name="pathways.tasks.notifications_deliver_due", acks_late=True, ignore_result=True)
def notifications_deliver_due() -> int:
    """Deliver what is due now (asked for when a change commits a message that is due)."""
    return outbox.deliver_due(seconds=DELIVERY_BUDGET_SECONDS)


@shared_task(name="pathways.tasks.notifications_sweep", acks_late=True, ignore_result=True)
def notifications_sweep() -> int:
    """Every minute (beat): take back the rows of dead workers and deliver everything due."""
    return outbox.sweep(seconds=DELIVERY_BUDGET_SECONDS)


@shared_task(name="pathways.tasks.overdue_scan", acks_late=True, ignore_result=True)
def overdue_scan() -> int:
    """Every 15 minutes (beat): a notice per overdue task per day to the plan's coordinator."""
    return outbox.overdue_scan()


# --- ingest ---
