"""Writes through the API that a client may safely send again (`Idempotency-Key`, as Stripe and the IETF
draft "The Idempotency-Key HTTP Header Field" have it).

`run_once` runs a write in one transaction together with the row that remembers its key: the row is
inserted first, so a second request with the same key, sent while the first is still being answered, waits
on the unique index and then gets the first one's answer — one change, never two. A write that is refused
(an exception, or an answer that is no success) rolls back with its key, so the corrected request can be
sent with the same key. The same key with another request (method, path or body) is refused (422).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pathways.models import ApiIdempotencyKey, User

# Printable ASCII without spaces, as a UUID or any client's own scheme writes it.
KEY = re.compile(r"[\x21-\x7e]{1,255}")


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    location: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class KeyRefused(Exception):
    """The key is malformed (400) or was used for another request (422)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def fingerprint(*, method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def run_once(
    *, user: User, key: str | None, fingerprint: str, write: Callable[[], Answer]
) -> tuple[Answer, bool]:
    """The write's answer and whether it is a replay of an earlier one. Without a key: the write, once,
    in a transaction. Raises KeyRefused; whatever `write` raises propagates with nothing written."""
    if key is None:
        with transaction.atomic():
            answer = write()
            if answer.status >= 300:
                transaction.set_rollback(True)
            return answer, False
    if not KEY.fullmatch(key):
        raise KeyRefused(400, _("The Idempotency-Key must be 1–255 printable characters without spaces."))
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = ApiIdempotencyKey.objects.create(user=user, key=key, fingerprint=fingerprint)
        except IntegrityError:
            earlier = ApiIdempotencyKey.objects.get(user=user, key=key)
            if earlier.fingerprint != fingerprint:
                raise KeyRefused(
                    422, _("This Idempotency-Key was used for another request: use a new key.")
                ) from None
            return Answer(status=earlier.status or 200, body=earlier.body, location=earlier.location), True
        answer = write()
        if answer.status >= 300:
            transaction.set_rollback(True)
            return answer, False
        row.status, row.body, row.location = answer.status, answer.body, answer.location
        row.save(update_fields=["status", "body", "location"])
        return answer, False


def keys_expire(*, now: Any = None) -> int:
    """Forget the keys older than API_IDEMPOTENCY_HOURS (the hourly job)."""
    before = (now or timezone.now()) - timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
    deleted, _rows = ApiIdempotencyKey.objects.filter(created_at__lt=before).delete()
    return deleted
