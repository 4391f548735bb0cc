from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PathwaysConfig(AppConfig):
    name = "pathways"
    verbose_name = _("Pathway plans")
    demo_seed = "pathways.demo.seed"  # run by `manage.py seed_demo`, first: the hub is the lowest layer

    def ready(self) -> None:
        from pathways.signin import signals  # noqa: F401 - connects the sign-in security events
