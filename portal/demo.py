"""The portal's part of the demo (run by `manage.py seed_demo` after the other apps'): what a person trying
the portal needs — addresses to sign in with, relatives with each consent scope, and staff reads of
Kirsten's plan this week for her access log. Idempotent, like the other apps' seeds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any


def seed(write: Callable[[str], Any]) -> None:
    _seed_readers(write)
    _seed_reads(write)


# --- plan (addresses to sign in with; a relative with "appointments only") ---


KIRSTEN_CPR = "1403612126"  # pathways.demo
SON = "Mads Poulsen"


def _seed_readers(write: Callable[[str], Any]) -> None:
    """Kirsten and her daughter Susanne (whole plan) sign in with the addresses the hub's and the
    relatives' demos gave them; her son Mads is added with "appointments only", through relatives.services,
    unless the plan has such a relative already."""
    from django.conf import settings

    from pathways.models import PathwayPlan, User
    from relatives import access as relatives_access
    from relatives import services as relatives_services
    from relatives.choices import ConsentMethod, ConsentScope, Relation, RelativeChannel

    plan = PathwayPlan.objects.open().filter(patient__cpr=KIRSTEN_CPR).select_related("patient").first()
    if plan is None:
        write("Portal: Kirsten Poulsen has no plan; no portal demo.")
        return
    kirsten = plan.patient
    created = 0
    appointments_only = relatives_access.relatives_seeing(plan, scopes=[ConsentScope.APPOINTMENTS])
    if not appointments_only:
        coordinator = User.objects.get(username="koordinator")
        son = relatives_services.relative_add(
            actor=coordinator,
            plan=plan,
            name=SON,
            relation=Relation.CHILD,
            relation_detail="Søn, bor i Roskilde",
            phone="29 63 18 40",
            email="mads.poulsen@example.invalid",
            preferred_channel=RelativeChannel.EMAIL,
            consent={
                "scope": ConsentScope.APPOINTMENTS,
                "method": ConsentMethod.SPOKEN,
                "coercion_checked": True,
                "coercion_note": "Kirsten vil gerne have, at Mads kan se aftalerne, så han kan køre hende.",
            },
        )
        appointments_only = [son]
        created += 1
    whole_plan = relatives_access.relatives_seeing(plan, scopes=[ConsentScope.WHOLE_PLAN])
    portal = settings.SITE_URL.rstrip("/") + settings.PORTAL_PATH
    lines = [f"Portal ready at {portal} (relatives added this run: {created}). Sign in with:"]
    lines.append(f"  {kirsten.full_name} (her own plan): {kirsten.email or '-'} / {kirsten.phone or '-'}")
    lines += [
        f"  {relative.name} (relative, whole plan): {relative.email or '-'} / {relative.phone or '-'}"
        for relative in whole_plan
    ]
    lines += [
        f"  {relative.name} (relative, appointments only): {relative.email or '-'} / {relative.phone or '-'}"
        for relative in appointments_only
    ]
    lines.append("  The link goes to the address typed; the code comes by the other (mail and SMS sinks).")
    write("\n".join(lines))


# --- access log (staff reads of Kirsten's plan this week, an emergency access) ---


# (username, SOR code of the organisation they read for, what they did, when: days ago and the time of
# day): the reads of Kirsten's plan this week that her access log shows ("the home nurse and the GP opened
# her plan this week"), spread over the week as real reads are — each on a day before today, so always
# within the last seven days and before the moment of seeding.
DEMO_READS = [
    ("kommune", "990200000000002", "view_plan", (6, 9, 12)),  # Mette Jensen, Hjemmesygeplejen Roskilde
    ("aftenvagt", "990200000000002", "list", (5, 21, 40)),  # Ida Kristensen, the evening shift's list
    ("egenlaege", "990400000000001", "view_plan", (4, 14, 30)),  # Peter Madsen, Lægehuset Algade
    ("sygehus", "990100000000002", "view_plan", (2, 10, 5)),  # Anne Holm, Medicinsk afdeling
]
# Her daughter reads the plan in the portal the evening before the seeding.
DEMO_RELATIVE_READ = (1, 19, 20)
# Break the glass, three weeks ago: a nurse of another municipality, who takes no part in Kirsten's plan.
EMERGENCY_READER, EMERGENCY_ORGANISATION = "holbaek", "990300000000002"  # Hjemmesygeplejen Holbæk
EMERGENCY_REASON = (
    "Kirsten var på besøg hos sin søster i Holbæk og fik svært ved at trække vejret. Jeg skulle se "
    "hendes medicin og aftaler."
)
EMERGENCY_DAYS_AGO = 21


def _demo_moment(now: datetime, when: tuple[int, int, int]) -> datetime:
    """`when` (days ago, hour, minute) as a moment in the local time zone: on a day before today's, so
    before `now` and after `now` less seven days."""
    from django.utils import timezone

    days_ago, hour, minute = when
    day = timezone.localdate(now) - timedelta(days=days_ago)
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def _seed_reads(write: Callable[[str], Any]) -> None:
    """Reads of Kirsten's plan for her access log: this week by the home nurse, the evening nurse, her GP and
    the hospital and by her daughter in the portal, each at its own moment of the past days (left alone when
    this week has such staff reads), and an emergency access three weeks ago (through pathways.services;
    left alone when it exists). The access log is append-only and its writers (pathways.audit) stamp "now",
    so these past reads are inserted with their moment, as the writers would have written them then."""
    from django.utils import timezone

    from pathways import services as hub_services
    from pathways.choices import AccessAction, AccessPurpose
    from pathways.models import AccessLog, EmergencyAccess, Organisation, PathwayPlan, User
    from relatives import access as relatives_access
    from relatives.choices import ConsentScope

    plan = PathwayPlan.objects.open().filter(patient__cpr=KIRSTEN_CPR).first()
    if plan is None:
        return
    readers = [username for username, _sor, _action, _when in DEMO_READS]
    users = {
        user.username: user
        for user in User.objects.filter(username__in=[*readers, EMERGENCY_READER, "koordinator"])
    }
    now = timezone.now()
    written = 0
    this_week = AccessLog.objects.filter(
        patient_id=plan.patient_id, actor__username__in=readers, at__gte=now - timedelta(days=7)
    )
    if not this_week.exists():
        for username, sor_code, action, when in DEMO_READS:
            AccessLog.objects.create(  # as pathways.audit.access_log_write
                at=_demo_moment(now, when),
                actor=users[username],
                patient_id=plan.patient_id,
                plan=plan,
                organisation=Organisation.objects.get(sor_code=sor_code),
                action=AccessAction(action),
                purpose=AccessPurpose.TREATMENT,
            )
            written += 1
        # Her daughter read the plan in the portal too: relatives' reads are in Kirsten's log.
        for relative in relatives_access.relatives_seeing(plan, scopes=[ConsentScope.WHOLE_PLAN])[:1]:
            AccessLog.objects.create(  # as pathways.audit.portal_read_log_write
                at=_demo_moment(now, DEMO_RELATIVE_READ),
                reader=relative,
                patient_id=plan.patient_id,
                plan=plan,
                action=AccessAction.PORTAL_PLAN,
                purpose=AccessPurpose.RELATIVE_CONSENT,
            )
            written += 1

    reader = users[EMERGENCY_READER]
    if not EmergencyAccess.objects.filter(actor=reader, plan=plan).exists():
        organisation = Organisation.objects.get(sor_code=EMERGENCY_ORGANISATION)
        grant = hub_services.emergency_access_grant(
            actor=reader, organisation=organisation, plan=plan, reason=EMERGENCY_REASON
        )
        hub_services.emergency_access_acknowledge(actor=users["koordinator"], access=grant)
        # Back then, as the other apps' demos date their past events: the grant ran out long ago, and the
        # coordinator saw it the next morning.
        granted_at = now - timedelta(days=EMERGENCY_DAYS_AGO, hours=3)
        EmergencyAccess.objects.filter(pk=grant.pk).update(
            granted_at=granted_at,
            expires_at=granted_at + (grant.expires_at - grant.granted_at),
            acknowledged_at=granted_at + timedelta(hours=14),
        )
        # The read under it. The access log is append-only and its writer stamps "now", so the past read
        # is inserted as access_log_write would have written it then (pathways.access.access_plan).
        AccessLog.objects.create(
            at=granted_at + timedelta(minutes=2),
            actor=reader,
            patient_id=plan.patient_id,
            plan=plan,
            organisation=organisation,
            action=AccessAction.VIEW_PLAN,
            purpose=AccessPurpose.EMERGENCY,
            reason=grant.reason,
        )
        written += 1
    write(
        f"Portal: {written} reads of Kirsten's plan written for her access log "
        f"(who has seen my information?)."
    )
