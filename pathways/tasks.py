"""Celery tasks of the hub: thin wrappers, one outbox call each, safe to run twice or in parallel.

`acks_late`: a task lost with its worker runs again, which is harmless here (every call claims rows
atomically). Nothing is scheduled with `eta`/`countdown`: due times live in the outbox rows.
"""

from __future__ import annotations

from celery import shared_task

from pathways import documents, idempotency, ingest, outbox, partitions, stays

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


# --- stays ---


@shared_task(name="pathways.tasks.stays_hold_coming_due", acks_late=True, ignore_result=True)
def stays_hold_coming_due() -> int:
    """Every morning (beat): while patients are in hospital, the tasks coming due are put on hold as their
    admission's were (each task once per stay; safe twice)."""
    return stays.stays_hold_coming_due()


# --- ingest ---


@shared_task(name="pathways.tasks.medcom_release_held", acks_late=True, ignore_result=True)
def medcom_release_held() -> int:
    """Every minute (beat): received hospital notices whose wait for an earlier message is over are
    applied on their own (each row locked; safe twice)."""
    return ingest.medcom_release_held()


@shared_task(name="pathways.tasks.medcom_prune", acks_late=True, ignore_result=True)
def medcom_prune() -> int:
    """Nightly (beat): notices about citizens without a plan older than MEDCOM_NO_PLAN_KEEP_DAYS go."""
    return ingest.medcom_prune()


# --- printable documents ---


@shared_task(name="pathways.tasks.document_render", acks_late=True, ignore_result=True)
def document_render(document_id: int) -> bool:
    """Render one printable document (asked for when its row commits; again by the sweeper)."""
    return documents.document_render(document_id)


@shared_task(name="pathways.tasks.documents_sweep", acks_late=True, ignore_result=True)
def documents_sweep() -> int:
    """Every minute (beat): documents of dead workers and lost requests, and the letters' PDFs."""
    return documents.documents_sweep()


@shared_task(name="pathways.tasks.letters_prepare", acks_late=True, ignore_result=True)
def letters_prepare() -> int:
    """Asked by the outbox when it has delivered letters to the print queue: each gets its PDF (once per
    letter, so a repeat or the sweeper at the same moment makes nothing twice)."""
    return documents.letters_prepare()


@shared_task(name="pathways.tasks.api_keys_expire", acks_late=True, ignore_result=True)
def api_keys_expire() -> int:
    """The API forgets Idempotency-Keys older than API_IDEMPOTENCY_HOURS."""
    return idempotency.keys_expire()


@shared_task(name="pathways.tasks.partitions_maintain", acks_late=True, ignore_result=True)
def partitions_maintain() -> tuple[int, int]:
    """Every night (beat): the access log's and the audit trail's months ahead made, expired ones dropped."""
    return partitions.partitions_maintain()
