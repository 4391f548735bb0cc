from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QualityConfig(AppConfig):
    name = "quality"
    verbose_name = _("Quality")
    demo_seed = "quality.demo.seed"  # run by `manage.py seed_demo`, after the other apps' steps

    def ready(self) -> None:
        # The hub's pages show wellbeing through its extension points (pathways.extensions).
        from pathways import extensions

        # --- staff pages (helper "staff") register the plan section and caseload column here ---
        from quality import fhir, selectors

        # The wellbeing trend on the plan page (every participating sector) and the caseload's column and
        # filter for answers the coordinator has not yet seen.
        extensions.register_plan_section(
            extensions.PlanSection(
                "wellbeing", "quality/_partials/plan_wellbeing.html", selectors.plan_wellbeing_section
            )
        )
        extensions.register_caseload_extension(selectors.CASELOAD_EXTENSION)
        # The plan as FHIR carries the patient's answered questionnaires.
        extensions.register_fhir_contributor(fhir.add_responses)
        # --- dashboard (helper "dashboard"): the staff menu's link, decided once at sign-in ---
        from django.contrib.auth.signals import user_logged_in

        user_logged_in.connect(remember_dashboard_link, dispatch_uid="quality-dashboard-link")
        # A user whose only role is the quality permission starts on the dashboard after sign-in.
        extensions.register_start_page(dashboard_start_page)


# The staff menu (templates/staff_base.html) links to the quality dashboard for those who may open it. Asking
# the permission on every page would cost two queries each; the answer is kept in the session at sign-in
# instead (the dashboard itself asks again on every request, so a link left after a revoked permission
# leads to a refusal, never to the numbers).
DASHBOARD_LINK_SESSION_KEY = "quality_dashboard_link"
# The quality role alone (no organisation): the menu offers the dashboard only, not the worklist and the
# caseload, which would always be empty for them.
DASHBOARD_ONLY_SESSION_KEY = "quality_dashboard_only"


def remember_dashboard_link(request: object, user: object, **kwargs: object) -> None:
    session = getattr(request, "session", None)
    has_perm = getattr(user, "has_perm", None)
    if session is not None and has_perm is not None:
        session[DASHBOARD_LINK_SESSION_KEY] = bool(has_perm("quality.view_dashboard"))
        session[DASHBOARD_ONLY_SESSION_KEY] = dashboard_start_page(user) == "quality:dashboard"


def dashboard_start_page(user: Any) -> str:
    """The dashboard as the start page (pathways.extensions.START_PAGES) for a user who may open it and
    works in no organisation (the quality role alone: no plan, no caseload); "" for everyone else (an
    administrator keeps the hub's start page)."""
    from pathways.models import Membership

    if user.is_superuser or not user.has_perm("quality.view_dashboard"):
        return ""
    return "" if Membership.objects.active().filter(user=user).exists() else "quality:dashboard"
