"""What the commands that make the benchmarks' synthetic data share (seed_synthetic and the apps'
seed_synthetic_* commands): their rows skip the audit triggers, and a long run shows its progress."""

from __future__ import annotations

import sys
from typing import Any

from django.db import connection
from tqdm import tqdm


def without_audit_triggers() -> None:
    """Bulk synthetic rows need no audit trail: the per-row history triggers cut COPY from ≈ 700 to ≈ 40
    patients a second. `session_replication_role = replica` (for this transaction only) skips the
    triggers; it needs a superuser, as on the benchmark's throwaway cluster, and otherwise changes nothing.
    The rows are generated consistent, so the foreign-key checks it also skips have nothing to find."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
        if row and row[0]:
            cursor.execute("SET LOCAL session_replication_role = replica")


def progress(*, total: int, initial: int = 0, unit: str) -> tqdm[Any]:
    """A progress bar on a terminal (rate and time left); nothing in a log, where the commands print a
    line a batch instead (`bar.disable`)."""
    return tqdm(total=total, initial=initial, unit=unit, unit_scale=True, disable=None, file=sys.stderr)
