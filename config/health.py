"""/healthz: is the database, Redis and at least one Celery worker answering? 503 when one is not."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from config.celery import app as celery_app
from pathways.choices import NotificationState
from pathways.models import Notification

logger = logging.getLogger(__name__)
TIMEOUT_SECONDS = 1.0


def _database_up() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return bool(cursor.fetchone() == (1,))
    except Exception:
        logger.warning("healthz: database check failed", exc_info=True)
        return False


def _redis_up() -> bool:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        logger.warning("healthz: redis check failed", exc_info=True)
        return False
    finally:
        client.close()


def _workers_answering() -> int:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=1)
        replies = celery_app.control.ping(timeout=TIMEOUT_SECONDS, connection=conn)
    return len(replies or [])


@never_cache
@require_safe
def healthz(_request: HttpRequest) -> JsonResponse:
    database = _database_up()
    redis_ok = _redis_up()
    workers = 0
    if redis_ok:
        try:
            workers = _workers_answering()
        except Exception:
            logger.warning("healthz: celery ping failed", exc_info=True)
    checks = {
        "database": "up" if database else "down",
        "redis": "up" if redis_ok else "down",
        "celery_worker": "up" if workers else "down",
    }
    healthy = database and redis_ok and workers > 0
    body: dict[str, object] = {
        "status": "ok" if healthy else "unavailable",
        "checks": checks,
        "celery_workers": workers,
    }
    outbox = _outbox_counts() if database else None
    if outbox is not None:
        body["outbox"] = outbox
    return JsonResponse(body, status=200 if healthy else 503)


def _outbox_counts() -> dict[str, int] | None:
    """Messages waiting (due or not) and failed ones an administrator should look at. Counts only; None
    when they cannot be read (e.g. a database not yet migrated): the probe still answers."""
    try:
        counts = dict(
            Notification.objects.filter(state__in=[NotificationState.PENDING, NotificationState.FAILED])
            .values_list("state")
            .annotate(n=Count("pk"))
            .values_list("state", "n")
        )
    except DatabaseError:
        logger.warning("healthz: outbox counts failed", exc_info=True)
        return None
    return {
        "pending": counts.get(NotificationState.PENDING, 0),
        "failed": counts.get(NotificationState.FAILED, 0),
    }
