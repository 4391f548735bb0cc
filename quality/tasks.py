"""Quality's Celery tasks: thin wrappers, one service call each, safe to run twice or in parallel (the
services claim or lock what they change). Their schedule is CELERY_BEAT_SCHEDULE in config/settings.py."""

from __future__ import annotations

from celery import shared_task

from quality import services, summaries

# --- questionnaires ---


@shared_task(name="quality.tasks.questionnaires_schedule", acks_late=True, ignore_result=True)
def questionnaires_schedule() -> int:
    """Every hour (beat): ask the questionnaires due at the plans' milestones today (each milestone once)."""
    return services.questionnaires_schedule()


@shared_task(name="quality.tasks.questionnaire_requests_expire", acks_late=True, ignore_result=True)
def questionnaire_requests_expire() -> int:
    """Every hour (beat): questionnaires not answered in time expire; those of ended plans and of relatives
    who no longer follow the plan are cancelled, with their reminders."""
    return services.requests_expire()


# --- indicators ---


@shared_task(name="quality.tasks.summaries_refresh", acks_late=True, ignore_result=True, time_limit=3600)
def summaries_refresh(refresh_id: int) -> bool:
    """Asked for by a refresh request or the sweep: claim the run and refresh the summary table."""
    return summaries.refresh_run(refresh_id=refresh_id)


@shared_task(name="quality.tasks.summaries_refresh_nightly", ignore_result=True)
def summaries_refresh_nightly() -> int:
    """Every night (beat): ask for a refresh (or join the one queued or running)."""
    return summaries.refresh_request(actor=None).pk


@shared_task(name="quality.tasks.summaries_sweep", ignore_result=True)
def summaries_sweep() -> int:
    """Every minute (beat): a dead worker's run is queued again; a lost request is asked again."""
    return summaries.summaries_sweep()
