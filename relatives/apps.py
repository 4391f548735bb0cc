from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RelativesConfig(AppConfig):
    name = "relatives"
    verbose_name = _("Relatives")
    demo_seed = "relatives.demo.seed"  # run by `manage.py seed_demo`, after the hub's

    def ready(self) -> None:
        # The hub's plan page shows relatives, and its outbox reminds them of appointments, through its
        # extension points (pathways.extensions).
        from pathways import extensions
        from relatives import access, fhir, selectors
        from relatives.models import ChildChecklistItem, Relative, RelativeConsent

        extensions.register_plan_section(
            extensions.PlanSection(
                "relatives", "relatives/_partials/plan_relatives.html", selectors.plan_relatives_section
            )
        )
        extensions.register_appointment_recipients(access.appointment_recipients, Relative)
        # The patient is told by name which relative no longer has access (a withdrawn consent).
        extensions.register_notice_words(access.revoked_relative_words)
        # The plan as FHIR carries the relatives the patient has let take part, with their consent.
        extensions.register_fhir_contributor(fhir.add_relatives)
        # The relatives on the plan and the patient's decisions are the plan's; the support record is the
        # relative's own and stays out of the plan's history (the admin's audit trail keeps it).
        for model in (Relative, RelativeConsent, ChildChecklistItem):
            extensions.register_plan_history_model(model)
