from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoordinationConfig(AppConfig):
    name = "coordination"
    verbose_name = _("Coordination")
    demo_seed = "coordination.demo.seed"  # run by `manage.py seed_demo`, after the hub's

    def ready(self) -> None:
        # The hub's pages show coordination through its extension points (pathways.extensions).
        from coordination import documents, fhir, selectors
        from coordination.models import CoordinatorHandover, Dispute, Message, MessageThread, NeedAssessment
        from pathways import extensions
        from pathways.choices import DocumentKind

        extensions.register_caseload_extension(selectors.CASELOAD_EXTENSION)
        extensions.register_plan_section(
            extensions.PlanSection(
                "coordination",
                "coordination/_partials/plan_coordination.html",
                selectors.plan_coordination_section,
            )
        )
        extensions.register_plan_section(
            extensions.PlanSection(
                "disputes", "coordination/_partials/plan_disputes.html", selectors.plan_disputes_section
            )
        )
        extensions.register_plan_section(
            extensions.PlanSection(
                "messages", "coordination/_partials/plan_messages.html", selectors.plan_messages_section
            )
        )
        extensions.register_task_markers(selectors.dispute_task_markers)
        # The plan as FHIR carries its messages between sectors (CareCommunication's shape).
        extensions.register_fhir_contributor(fhir.add_messages)
        # The complete plan for staff as a printable document (pathways.documents renders it).
        extensions.register_document_builder(DocumentKind.STAFF, documents.staff_plan_html)
        for model in (NeedAssessment, CoordinatorHandover, Dispute, MessageThread, Message):
            extensions.register_plan_history_model(model)
