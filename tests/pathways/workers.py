"""What the tests with a real Celery worker share."""

import time

from pathways import services


def wait_for(predicate, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def assign_to_nurse(world, task):
    """Make the home nurse responsible for `task` (she is told: a notice through the outbox)."""
    return services.task_update(
        actor=world.coordinator,
        task=task,
        expected_version=task.version,
        title=task.title,
        kind=task.kind,
        responsible_organisation=task.responsible_organisation,
        responsible_person=world.home_nurse,
        window_start=task.window_start,
        due_date=task.due_date,
        description=task.description,
        goal=None,
        depends_on=None,
        visible_to_patient=task.visible_to_patient,
    )
