"""`manage.py seed_demo`: fictional, idempotent demo data, one step per app.

Each app that has demo data names its step on its AppConfig (`demo_seed = "<app>.demo.seed"`); the
steps run in the order of INSTALLED_APPS, which is the layer order (pathways first), so an app's demo
data can build on the data of the apps below it. All steps run in one transaction, and every step is
idempotent: running the command twice gives exactly the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.module_loading import import_string

from pathways import partitions


def demo_steps() -> list[tuple[str, Callable[[Callable[[str], None]], None]]]:
    """(app label, step) for every app with demo data, in layer order."""
    steps = []
    for config in apps.get_app_configs():
        path: str | None = getattr(config, "demo_seed", None)
        if path:
            steps.append((config.label, import_string(path)))
    return steps


class Command(BaseCommand):
    help = "Create fictional demo organisations, logins, patients and pathway plans (safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.DJANGO_ENV == "production":
            # Every demo login, an administrator among them, has the password published in the README.
            raise CommandError(
                "seed_demo refuses to run with production settings: the demo logins share a published "
                "password. Use DJANGO_ENV=development on a demo or trial machine."
            )
        with transaction.atomic():
            for label, step in demo_steps():
                self.stdout.write(self.style.SUCCESS(f"[{label}]"))
                step(self.stdout.write)
        # The demo's reads of earlier days and weeks go into their months' partitions of the access log.
        partitions.partitions_maintain()
