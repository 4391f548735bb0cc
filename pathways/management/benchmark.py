"""What the page benchmarks share (bench_pages, quality's bench_quality, portal's bench_national): timing
a request or a query, the 95th percentile, and the hand-written SQL that fetches what a page shows (its
floor)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

CASELOAD_FLOOR_SQL = """
SELECT p.public_id, pa.given_name, pa.family_name, pa.birth_date, p.status, p.updated_at,
       cu.first_name, cu.last_name,
       (SELECT string_agg(c.display, ', ' ORDER BY c.id)
        FROM pathways_plancondition c WHERE c.plan_id = p.id),
       (SELECT t.title FROM pathways_task t WHERE t.plan_id = p.id AND t.status IN
            ('requested', 'accepted', 'in_progress', 'on_hold') AND t.due_date IS NOT NULL
        ORDER BY t.due_date, t.id LIMIT 1),
       (SELECT count(*) FROM pathways_task t WHERE t.plan_id = p.id AND t.status IN
            ('requested', 'accepted', 'in_progress', 'on_hold') AND t.due_date < %(today)s)
FROM pathways_pathwayplan p
JOIN pathways_patient pa ON pa.id = p.patient_id
LEFT JOIN pathways_user cu ON cu.id = p.coordinator_id
WHERE p.status IN ('draft', 'active', 'on_hold')
  AND EXISTS (SELECT 1 FROM pathways_planparticipant pp
              WHERE pp.plan_id = p.id AND pp.organisation_id = ANY(%(orgs)s))
ORDER BY pa.family_name, pa.given_name, p.id
LIMIT 25
"""

PLAN_FLOOR_SQL = """
SELECT p.title, p.what_matters, p.status, pa.given_name, pa.family_name, pa.birth_date,
       t.public_id, t.title, t.kind, t.status, t.due_date, t.window_start, t.version, t.visible_to_patient,
       o.name, o.sector, u.first_name, u.last_name, d.title, d.status
FROM pathways_pathwayplan p
JOIN pathways_patient pa ON pa.id = p.patient_id
LEFT JOIN pathways_task t ON t.plan_id = p.id
LEFT JOIN pathways_organisation o ON o.id = t.responsible_organisation_id
LEFT JOIN pathways_user u ON u.id = t.responsible_person_id
LEFT JOIN pathways_task d ON d.id = t.depends_on_id
WHERE p.id = %(plan)s
ORDER BY t.due_date, t.id
"""


def timed(fn: Callable[[], Any], repeat: int, *, warm: int = 3) -> list[float]:
    """`repeat` times of `fn` in milliseconds, after `warm` runs that fill caches and open connections."""
    for _ in range(warm):
        fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]
