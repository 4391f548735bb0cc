"""Portal fixtures: a client signed in to the portal as a patient or relatives, without the sign-in flow
(tests/portal/test_signin.py tries that flow itself)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from django.conf import settings
from django.test import Client

from pathways.models import Patient
from portal.choices import SignInMethod
from portal.signin import portal_session_start
from relatives.models import Relative


@pytest.fixture
def portal_client() -> Callable[..., Client]:
    """portal_client(patient=..., relatives=[...]) → a test client with an open portal session."""

    def make(*, patient: Patient | None = None, relatives: Iterable[Relative] = ()) -> Client:
        _session, key = portal_session_start(
            method=SignInMethod.LINK_AND_CODE, patient=patient, relatives=list(relatives)
        )
        client = Client()
        client.cookies[settings.PORTAL_SESSION_COOKIE] = key
        return client

    return make
