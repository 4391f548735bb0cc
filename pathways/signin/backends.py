"""The staff sign-in's authentication backend: Django's ModelBackend, whose load of the signed-in user on
every request also brings, in the same query, what every staff page asks next — the organisations the
user currently belongs to and whether they have a confirmed authenticator. Three round trips become one;
both answers are read fresh on each request, as before, so an ended membership or a removed authenticator
counts from the next request on."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Exists, OuterRef
from django_otp.plugins.otp_totp.models import TOTPDevice

from pathways import access
from pathways.models import Membership, User
from pathways.signin import policy


class StaffBackend(ModelBackend):
    def get_user(self, user_id: Any) -> User | None:
        user = (
            User._default_manager.filter(pk=user_id)
            .annotate(
                loaded_organisation_ids=ArraySubquery(
                    Membership.objects.active().filter(user=OuterRef("pk")).values("organisation_id")
                ),
                loaded_authenticator=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
            )
            .first()
        )
        if user is None or not self.user_can_authenticate(user):
            return None
        access.active_organisation_ids_known(user, getattr(user, "loaded_organisation_ids", []))
        policy.has_second_factor_known(user, getattr(user, "loaded_authenticator", False))
        return user
