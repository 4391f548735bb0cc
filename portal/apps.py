from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Plan portal for patients and relatives")
    demo_seed = "portal.demo.seed"  # run by `manage.py seed_demo`, after the other apps'

    def ready(self) -> None:
        # The printed plan for the patient and its large print (pathways.documents asks for them).
        from portal import documents

        documents.register()
