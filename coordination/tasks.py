"""Celery tasks of coordination: thin wrappers, one service call each, safe to run twice or in parallel.

`acks_late`: a task lost with its worker runs again, which is harmless (the escalation ladder takes each
step of a dispute once, under a lock on the dispute and a unique row per step).
"""

from __future__ import annotations

from celery import shared_task

from coordination import services


@shared_task(name="coordination.tasks.disputes_escalate", acks_late=True, ignore_result=True)
def disputes_escalate() -> int:
    """Every 15 minutes (beat): open responsibility disputes climb the escalation ladder."""
    return services.disputes_escalate()
