"""The access matrix's rows for relatives: support (merged by tests/test_access_matrix.py, PARTS).

A relative's support record is seen, and written, by the plan's coordinator and by the staff of an
organisation holding one of the relative's referrals; everyone else gets 404, the plan's other sectors
included. In the world's own plan the relative is referred to an offer of the municipality (so its home
nurse has a reason too, besides the coordinator); in the foreign plan, which has no coordinator, to an
offer of the outsider's organisation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.utils import timezone

from pathways.models import Organisation
from relatives import services
from relatives.choices import OfferKind, ReferralStatus, Relation
from relatives.instruments import CSI_KEY, ship
from relatives.models import (
    Relative,
    RelativeNeed,
    StrainInstrument,
    StrainItem,
    SupportOffer,
    SupportReferral,
)

STAFF = ["admin", "coordinator", "hospital_doctor", "home_nurse", "gp_doctor", "outsider"]
RELATIVE_NAME = "Matrix Støttesen"
OWN_OFFER = "Pårørendesamtaler (matrix)"  # the municipality's: the own plan's relative is referred to it
FOREIGN_OFFER = "Pårørendegruppe Holbæk (matrix)"  # the outsider's organisation's
OTHER_OFFER = "Aflastning (matrix)"  # the hospital's: the POST bodies refer to it


def _support_rule(ok: int) -> dict[str, dict[str, int]]:
    """Own plan: the coordinator and the municipality's home nurse (its offer). Foreign plan: the outsider
    (their organisation's offer). Everyone else: 404, as for a relative who does not exist."""
    return {
        "own": dict.fromkeys(STAFF, 404) | {"coordinator": ok, "home_nurse": ok, "anonymous": 302},
        "other": dict.fromkeys(STAFF, 404) | {"outsider": ok, "anonymous": 302},
    }


def _refused_method() -> dict[str, dict[str, int]]:
    rule = dict.fromkeys(STAFF, 405) | {"anonymous": 302}
    return {"own": rule, "other": rule}


ROWS: dict[str, tuple[str | None, dict[str, Any]]] = {
    "relatives:support-record": ("plan-support-relative", {"GET": _support_rule(200)}),
    "relatives:strain-screening-create": (
        "plan-support-relative",
        {"GET": _support_rule(200), "POST": _support_rule(302)},
    ),
    "relatives:need-create": (
        "plan-support-relative",
        {"GET": _support_rule(200), "POST": _support_rule(302)},
    ),
    # Marking a need met is a POST only; a GET is refused before anything is looked up.
    "relatives:need-met": ("plan-support-need", {"GET": _refused_method(), "POST": _support_rule(302)}),
    "relatives:referral-create": (
        "plan-support-relative",
        {"GET": _support_rule(200), "POST": _support_rule(302)},
    ),
    "relatives:referral-update": (
        "plan-support-referral",
        {"GET": _support_rule(200), "POST": _support_rule(302)},
    ),
}


def _offer(name: str, organisation: Organisation, kind: str = OfferKind.CONVERSATION) -> SupportOffer:
    offer, _created = SupportOffer.objects.get_or_create(
        name=name, defaults={"kind": kind, "organisation": organisation}
    )
    return offer


def _holder(world: Any, plan: Any) -> Organisation:
    """The organisation whose offer the plan's relative is referred to."""
    return world.municipality if plan == world.plan else world.unrelated


def _csi() -> StrainInstrument:
    ship(StrainInstrument, StrainItem)  # a transactional test's flush may have emptied the data migration's
    return StrainInstrument.objects.get(key=CSI_KEY)


def _relative(world: Any, plan: Any) -> Relative:
    """The plan's support relative, made where there is none (a world other than the matrix's own, such
    as tests/test_hostile_input.py's), with a screening, a need not yet met and a referral (made by the
    product itself: the foreign plan has no coordinator to make the first)."""
    found = Relative.objects.filter(plan=plan, name=RELATIVE_NAME).first()
    if found is not None:
        return found
    relative = Relative.objects.create(plan=plan, name=RELATIVE_NAME, relation=Relation.CHILD)
    instrument = _csi()
    keys = list(instrument.items.order_by("position").values_list("key", flat=True))
    services.strain_screening_record(
        actor=None,
        relative=relative,
        instrument=instrument,
        answers={key: index < 8 for index, key in enumerate(keys)},
        screened_on=timezone.localdate(),
    )
    services.relative_need_record(actor=None, relative=relative, text="At få en pause om ugen.")
    holder = _holder(world, plan)
    services.support_referral_create(
        actor=None,
        relative=relative,
        offer=_offer(OWN_OFFER if plan == world.plan else FOREIGN_OFFER, holder),
        follow_up_date=timezone.localdate() + timedelta(days=10),
    )
    return relative


def _need(world: Any, plan: Any) -> RelativeNeed:
    need = _relative(world, plan).needs.filter(met_at__isnull=True).order_by("pk").first()
    assert need is not None
    return need


def _referral(world: Any, plan: Any) -> SupportReferral:
    referral = _relative(world, plan).referrals.order_by("pk").first()
    assert referral is not None
    return referral


def _other_offer(world: Any) -> SupportOffer:
    return _offer(OTHER_OFFER, world.hospital, OfferKind.RESPITE)


def _screening_body(asker: Any) -> dict[str, Any]:
    instrument = _csi()
    answers = {
        f"item_{key}": "yes" if index % 2 else "no"
        for index, key in enumerate(instrument.items.order_by("position").values_list("key", flat=True))
    }
    return {"instrument": CSI_KEY, "screened_on": timezone.localdate().isoformat(), **answers}


BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "relatives:strain-screening-create": _screening_body,
    "relatives:need-create": lambda _asker: {"text": "At vide, hvem jeg kan ringe til om natten."},
    "relatives:referral-create": lambda asker: {
        "offer": _other_offer(asker.world).public_id,
        # The hospital's offer: in the foreign plan the hospital takes no part and there is no coordinator,
        # so the referral names an organisation taking part to follow it up.
        "responsible_organisation": _holder(asker.world, asker.plan).public_id,
        "status": ReferralStatus.REFERRED,
        "follow_up_date": (timezone.localdate() + timedelta(days=7)).isoformat(),
    },
    "relatives:referral-update": lambda asker: {
        "status": ReferralStatus.STARTED,
        "follow_up_date": (timezone.localdate() + timedelta(days=14)).isoformat(),
        "note": "Første samtale aftalt.",
        "version": SupportReferral.objects.values_list("version", flat=True).get(
            pk=_referral(asker.world, asker.plan).pk
        ),
    },
}
CHANGES: set[str] = {
    "relatives:strain-screening-create",
    "relatives:need-create",
    "relatives:need-met",
    "relatives:referral-create",
    "relatives:referral-update",
}
URL_KINDS: dict[str, Callable[[Any, Any], list[Any]]] = {
    "plan-support-relative": lambda world, plan: [plan.public_id, _relative(world, plan).public_id],
    "plan-support-need": lambda world, plan: [
        plan.public_id,
        _relative(world, plan).public_id,
        _need(world, plan).public_id,
    ],
    "plan-support-referral": lambda world, plan: [
        plan.public_id,
        _relative(world, plan).public_id,
        _referral(world, plan).public_id,
    ],
}
# admin model ("app_model") → (the ADMIN_ROWS_OF name its object URLs use or None, what an
# administrator may do besides reading: a frozenset of "add", "change", "delete")
ADMIN_MODELS: dict[str, tuple[str | None, frozenset[str]]] = {
    # The catalogue and the instruments are settings an administrator keeps (a used one is protected
    # from deletion by its referrals or screenings: Django's page says so).
    "relatives_supportoffer": ("support_offer", frozenset({"add", "change", "delete"})),
    "relatives_straininstrument": ("strain_instrument", frozenset({"add", "change", "delete"})),
}
ADMIN_ADD_BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "relatives_supportoffer": lambda world: {
        "name": "Pårørendekursus (matrix)",
        "kind": OfferKind.COURSE,
        "organisation": world.municipality.pk,
        "is_active": "on",
    },
    "relatives_straininstrument": lambda _world: {
        "name": "Matrix-skala",
        "key": "matrix",
        "attribution": "Fælles forløbs egen testskala.",
        "high_strain_from": "1",
        "is_active": "on",
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-0-position": "1",
        "items-0-key": "tired",
        "items-0-text_da": "Jeg er træt.",
        "items-0-text_en": "I am tired.",
    },
}
ADMIN_ROWS_OF: dict[str, Callable[[Any], Any]] = {
    "support_offer": lambda world: _offer(OWN_OFFER, world.municipality),
    "strain_instrument": lambda _world: _csi(),
}


def build(world: Any) -> None:
    """A relative with a support record in each plan (`_relative`), and the offer the bodies refer to."""
    _other_offer(world)
    for plan in (world.plan, world.other_plan):
        _relative(world, plan)
