"""The relatives in the demo (DESIGN.md's stories; issue 13 "Demo"). Run by `manage.py seed_demo` after the
hub's and before coordination's; idempotent: each part looks for what it would make (a relative by plan and
name, a screening, a referral, a consent decision by relative) and leaves what exists alone.

- Kirsten's daughter Susanne in Køge, her closest relative: consent to the whole plan, a Caregiver Strain
  Index of 8 (high strain) and a referral to Roskilde Kommune's relatives' conversations, followed up in
  two weeks by the coordinator Lars Nielsen; and the catalogue of support offers.
- Kasper's daughter Alberte, 12: a child relative with the checklist, one step done.
- Fatma's son Emre: consent to appointments given three months ago, withdrawn last month.

Writes go through relatives.services. The consent decisions are made some days, weeks and months ago:
a decision is never changed (a trigger refuses UPDATE), so the demo's past decisions are written as rows
with their dates, checked like the service's, and the reminders then follow them as the service's would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from pathways import outbox
from pathways.models import Organisation, PathwayPlan, User
from relatives import services
from relatives.choices import (
    ChecklistStatus,
    ChildCareStep,
    ConsentAction,
    ConsentMethod,
    ConsentScope,
    OfferKind,
    Relation,
    RelativeChannel,
)
from relatives.instruments import CSI_KEY, ship
from relatives.models import (
    ChildChecklistItem,
    Relative,
    RelativeConsent,
    StrainInstrument,
    StrainItem,
    StrainScreening,
    SupportOffer,
    SupportReferral,
)

# The demo's patients (pathways.demo, by CPR number) and organisations (by SOR code).
KIRSTEN, KASPER, FATMA = "1403612126", "1809922177", "2504684122"
ROSKILDE, SUNDHEDSCENTER, PSYKIATRI = "990200000000001", "990200000000004", "990100000000005"


@dataclass(frozen=True)
class _OfferSpec:
    name: str
    kind: OfferKind
    organisation: str  # SOR code
    description: str
    contact_name: str = ""
    phone: str = ""


OFFERS = [
    _OfferSpec(
        "Pårørendesamtaler i Roskilde Kommune",
        OfferKind.CONVERSATION,
        ROSKILDE,
        "Op til fem samtaler med en pårørendekonsulent, alene eller sammen med familien. Gratis.",
        contact_name="Pårørendekonsulent Karen Vind",
        phone="46 31 30 40",
    ),
    _OfferSpec(
        "Aflastning i Roskilde Kommune",
        OfferKind.RESPITE,
        ROSKILDE,
        "Afløsning i hjemmet eller et kort ophold på et plejecenter, så den pårørende kan få en pause.",
        phone="46 31 30 41",
    ),
    _OfferSpec(
        "Kursus for pårørende: Når en, du holder af, har KOL",
        OfferKind.COURSE,
        SUNDHEDSCENTER,
        "Fire aftener om sygdommen, om at passe på sig selv og om at tale sammen. Holdstart hver måned.",
        phone="46 31 76 10",
    ),
    _OfferSpec(
        "Pårørendevejleder i psykiatrien",
        OfferKind.GUIDE,
        PSYKIATRI,
        "En navngiven vejleder for pårørende, også børn og unge, til patienter i Psykiatrisk afdeling.",
        contact_name="Birgit Holm",
        phone="47 32 40 50",
    ),
    _OfferSpec(
        "Lungeforeningens netværk for pårørende (KOL)",
        OfferKind.ASSOCIATION,
        SUNDHEDSCENTER,
        "Netværksgrupper og telefonrådgivning for pårørende til mennesker med KOL. Sundhedscenter "
        "Roskilde formidler kontakten.",
    ),
]

# Susanne's answers to the Caregiver Strain Index: 8 of 13 "yes" (high strain from 7).
SUSANNE_YES = {"sleep", "inconvenient", "confining", "family", "plans", "demands", "emotional", "overwhelmed"}


class _Demo:
    def __init__(self) -> None:
        self.now = timezone.now()
        self.today = timezone.localdate()
        self.created: dict[str, int] = {"relatives": 0, "offers": 0, "consents": 0}

    def user(self, username: str) -> User:
        return User.objects.get(username=username)

    def organisation(self, sor_code: str) -> Organisation:
        return Organisation.objects.get(sor_code=sor_code)

    def plan_of(self, cpr: str) -> PathwayPlan | None:
        return PathwayPlan.objects.open().filter(patient__cpr=cpr).first()

    def offers(self) -> dict[str, SupportOffer]:
        found = {}
        for spec in OFFERS:
            offer, created = SupportOffer.objects.get_or_create(
                name=spec.name,
                organisation=self.organisation(spec.organisation),
                defaults={
                    "kind": spec.kind,
                    "description": spec.description,
                    "contact_name": spec.contact_name,
                    "phone": spec.phone,
                },
            )
            found[spec.name] = offer
            self.created["offers"] += int(created)
        return found

    def relative(self, plan: PathwayPlan, *, actor: str, name: str, **fields: Any) -> tuple[Relative, bool]:
        """The plan's current relative called `name`, added by `actor` where there is none yet."""
        found = Relative.objects.current().filter(plan=plan, name=name).first()
        if found is not None:
            return found, False
        self.created["relatives"] += 1
        return services.relative_add(actor=self.user(actor), plan=plan, name=name, **fields), True

    def decisions(
        self, relative: Relative, *, by: str, organisation: str, rows: list[dict[str, Any]]
    ) -> None:
        """The patient's past decisions about `relative`, each {days_ago, scope, action, …}, written as
        rows with their dates (see the module docstring) where the relative has none yet."""
        if relative.consents.exists():
            return
        recorder, recorded_for = self.user(by), self.organisation(organisation)
        for row in rows:
            days_ago = row.pop("days_ago")
            consent = RelativeConsent(
                plan_id=relative.plan_id,
                relative=relative,
                method=ConsentMethod.SPOKEN,
                valid_from=self.today - timedelta(days=days_ago),
                recorded_at=self.now - timedelta(days=days_ago, hours=2),
                recorded_by=recorder,
                recorded_by_organisation=recorded_for,
                **row,
            )
            consent.full_clean()
            consent.save()
            self.created["consents"] += 1
            if consent.action == ConsentAction.REVOKED:
                # Withdrawn back then: the relative's access ended that day (the notices went out then).
                Relative.objects.filter(pk=relative.pk).update(sessions_ended_at=consent.recorded_at)
        outbox.plan_reminders_sync(plan=PathwayPlan.objects.get(pk=relative.plan_id))

    # --- the stories ---------------------------------------------------------------------------------

    def susanne(self, offers: dict[str, SupportOffer]) -> None:
        """Kirsten's daughter in Køge: closest relative, sees the whole plan, strained, referred."""
        plan = self.plan_of(KIRSTEN)
        if plan is None:
            return
        susanne, _created = self.relative(
            plan,
            actor="koordinator",
            name="Susanne Poulsen",
            relation=Relation.CHILD,
            relation_detail="Datter, bor i Køge",
            phone="28 19 45 63",
            email="susanne.poulsen@example.invalid",
            address="Vestergade 12, 4600 Køge",
            preferred_channel=RelativeChannel.SMS,
            is_closest=True,
            note="Kører Kirsten til kontroller og hjælper med indkøb to gange om ugen.",
        )
        self.decisions(
            susanne,
            by="koordinator",
            organisation=ROSKILDE,
            rows=[
                {
                    "days_ago": 6,
                    "action": ConsentAction.GIVEN,
                    "scope": ConsentScope.WHOLE_PLAN,
                    "coercion_checked": True,
                    "coercion_note": "Talt med Kirsten alene. Hun ønsker selv, at Susanne kan følge med.",
                }
            ],
        )
        if not StrainScreening.objects.filter(relative=susanne).exists():
            ship(StrainInstrument, StrainItem)  # a test's flush may have emptied the instruments
            instrument = StrainInstrument.objects.get(key=CSI_KEY)
            services.strain_screening_record(
                actor=self.user("koordinator"),
                relative=susanne,
                instrument=instrument,
                answers={item.key: item.key in SUSANNE_YES for item in instrument.items.all()},
                screened_on=self.today - timedelta(days=4),
                note="Susanne sover dårligt og er bange for, at Kirsten bliver indlagt igen.",
            )
        conversations = offers["Pårørendesamtaler i Roskilde Kommune"]
        if not SupportReferral.objects.filter(relative=susanne, offer=conversations).exists():
            services.support_referral_create(
                actor=self.user("koordinator"),
                relative=susanne,
                offer=conversations,
                responsible_organisation=conversations.organisation,
                responsible_person=self.user("koordinator"),
                follow_up_date=self.today + timedelta(days=14),
                note="Susanne vil gerne tale med nogen om, hvordan hun kan holde til det.",
            )

    def alberte(self) -> None:
        """Kasper's daughter, 12: a child relative; the psychiatry nurse has offered her a conversation."""
        plan = self.plan_of(KASPER)
        if plan is None:
            return
        alberte, created = self.relative(
            plan,
            actor="psykiatri",
            name="Alberte Lund",
            relation=Relation.CHILD,
            relation_detail="Datter, bor hos sin mor i Holbæk",
            is_child=True,
            child_age=12,
            note="Er hos Kasper hver anden weekend.",
        )
        if not created:
            return
        conversation = ChildChecklistItem.objects.get(relative=alberte, step=ChildCareStep.CONVERSATION)
        services.checklist_item_update(
            actor=self.user("psykiatri"),
            item=conversation,
            expected_version=conversation.version,
            status=ChecklistStatus.DONE,
            contact_name="",
            consent_confirmed=False,
            note="Alberte og hendes mor er tilbudt en samtale med pårørendevejlederen. De kommer næste uge.",
        )

    def emre(self) -> None:
        """Fatma's son: consent to appointments given three months ago, withdrawn by Fatma last month."""
        plan = self.plan_of(FATMA)
        if plan is None:
            return
        emre, _created = self.relative(
            plan,
            actor="kommune",
            name="Emre Yilmaz",
            relation=Relation.CHILD,
            relation_detail="Søn",
            phone="31 44 27 90",
            preferred_channel=RelativeChannel.SMS,
            language="da",
        )
        self.decisions(
            emre,
            by="kommune",
            organisation="990200000000002",  # Hjemmesygeplejen Roskilde, the plan's coordinator's
            rows=[
                {
                    "days_ago": 92,
                    "action": ConsentAction.GIVEN,
                    "scope": ConsentScope.APPOINTMENTS,
                    "coercion_checked": True,
                    "coercion_note": "Spurgt via tolk, uden sønnen til stede.",
                },
                {
                    "days_ago": 31,
                    "action": ConsentAction.REVOKED,
                    "scope": ConsentScope.NONE,
                    "note": "Sagt via tolk: Fatma vil ikke længere have, at Emre får besked om aftalerne.",
                },
            ],
        )


def seed(write: Callable[[str], None]) -> None:
    """The relatives' demo step (run by `manage.py seed_demo`). Idempotent."""
    demo = _Demo()
    offers = demo.offers()
    demo.susanne(offers)
    demo.alberte()
    demo.emre()
    created = demo.created
    write(
        f"Relatives ready. Created this run: {created['relatives']} relatives, {created['offers']} support "
        f"offers, {created['consents']} consent decisions. Look at Kirsten Poulsen's plan (koordinator: "
        "Susanne, her consent, strain score and referral), Kasper Lund's (psykiatri: Alberte's checklist) "
        "and Fatma Yilmaz's (kommune: Emre's withdrawn consent)."
    )
