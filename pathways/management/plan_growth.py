"""What the benchmarks share: a plan grown to many tasks, and put back."""

from __future__ import annotations

from datetime import timedelta

from pathways.choices import TaskStatus
from pathways.models import PathwayPlan, Task


def plan_grow(plan: PathwayPlan, tasks: int) -> list[int]:
    """Give the plan `tasks` tasks in all: copies of its own, over the coming months, every seventh done and
    every fifth waiting for the one before it. Returns the new tasks' ids (for `plan_shrink`)."""
    own = list(plan.tasks.order_by("pk"))
    new = []
    for n in range(max(0, tasks - len(own))):
        model = own[n % len(own)]
        status = TaskStatus.COMPLETED if n % 7 == 0 else model.status
        new.append(
            Task(
                plan=plan,
                title=f"{model.title} ({n + 1})",
                kind=model.kind,
                responsible_organisation_id=model.responsible_organisation_id,
                responsible_person_id=model.responsible_person_id,
                due_date=(model.due_date or plan.created_at.date()) + timedelta(days=n % 120),
                status=status,
                visible_to_patient=model.visible_to_patient,
                completed_at=plan.created_at if status == TaskStatus.COMPLETED else None,
            )
        )
    Task.objects.bulk_create(new)
    for before, after in zip(new[::5], new[1::5], strict=False):
        after.depends_on = before
    Task.objects.bulk_update(new[1::5], ["depends_on"])
    return [task.pk for task in new]


def plan_shrink(added: list[int]) -> None:
    """Delete the tasks `plan_grow` added."""
    Task.objects.filter(pk__in=added).update(depends_on=None)
    Task.objects.filter(pk__in=added).delete()
