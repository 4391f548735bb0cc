"""The staff sign-in's backend (pathways.signin.backends): the signed-in user comes with their current
organisations and authenticator in one query, read fresh on every request."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from pathways import access
from pathways.models import Membership
from pathways.signin import policy
from pathways.signin.backends import StaffBackend
from tests.conftest import sign_in


def test_a_staff_page_reads_the_users_organisations_and_authenticator_with_the_user(client, world):
    sign_in(client, world.home_nurse)
    url = reverse("pathways:plan-detail", args=[world.plan.public_id])
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    statements = [query["sql"] for query in ctx.captured_queries]
    user_reads = [sql for sql in statements if sql.startswith('SELECT "pathways_user"."id"')]
    assert len(user_reads) == 1
    assert "pathways_membership" in user_reads[0]
    assert "otp_totp_totpdevice" in user_reads[0]
    # No query of their own, as there was before the backend (one each, on every request).
    apart = [sql for sql in statements if not sql.startswith('SELECT "pathways_user"."id"')]
    assert not [
        sql for sql in apart if 'FROM "pathways_membership"' in sql or 'FROM "otp_totp_totpdevice"' in sql
    ]


def test_an_ended_membership_counts_from_the_next_request(client, world):
    sign_in(client, world.home_nurse)
    url = reverse("pathways:plan-detail", args=[world.plan.public_id])
    assert client.get(url).status_code == 200
    Membership.objects.filter(user=world.home_nurse).update(ended_at=timezone.now())
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_the_backend_gives_the_current_organisations_and_authenticator_each_time(world):
    backend = StaffBackend()
    nurse = backend.get_user(world.home_nurse.pk)
    assert nurse is not None
    assert access.active_organisation_ids(nurse) == {world.municipality.pk}
    assert not policy.has_second_factor(nurse)
    TOTPDevice.objects.create(user=world.home_nurse, name="app", confirmed=True)
    Membership.objects.filter(user=world.home_nurse).update(ended_at=timezone.now())
    nurse = backend.get_user(world.home_nurse.pk)
    assert nurse is not None
    assert access.active_organisation_ids(nurse) == frozenset()
    assert policy.has_second_factor(nurse)
    world.home_nurse.is_active = False
    world.home_nurse.save()
    assert backend.get_user(world.home_nurse.pk) is None
