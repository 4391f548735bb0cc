"""The API as a stranger's client sees it (issue 17 item 5): schemathesis reads the OpenAPI document the
product serves and, for every operation, generates requests — bodies valid and not, ids, headers — and
sends them to the app in-process, signed in with the token of a nurse who takes part in plans. Every answer
must be no server error, a status the document declares, the content type and headers it declares and a
body of the declared shape; a request that breaks the document must be refused (4xx). Bounded: a fixed
number of examples per operation (FF_API_FUZZ_EXAMPLES), no shrinking of what passes.

Half of the generated ids are swapped for the nurse's own plan and task, so the writes get past "not found"
to the rights, If-Match, Idempotency-Key and the services' own checks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.serializers.json import DjangoJSONEncoder
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from pathways.models import Task

EXAMPLES = int(os.environ.get("FF_API_FUZZ_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def _document() -> dict[str, Any]:
    """The document /api/schema/ serves (the same generator), as plain JSON."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    document: dict[str, Any] = json.loads(json.dumps(generated, cls=DjangoJSONEncoder))
    return document


schema = schemathesis.openapi.from_dict(_document())
schema.app = application


@pytest.fixture
def nurse_token(world: Any, settings: Any) -> Iterator[str]:
    """The nurse's token, with the app called as Django's test client calls it: the test's database
    connection (its transaction) is not closed at the end of each request."""
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield Token.objects.create(user=world.home_nurse).key
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _own_ids(world: Any) -> dict[str, str]:
    task = Task.objects.filter(plan=world.plan).order_by("pk").first()
    assert task is not None
    return {"plan": str(world.plan.public_id), "task": str(task.public_id)}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis/ in the checkout: each run draws afresh
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_operation_answers_as_its_schema_says(case: Any, world: Any, nurse_token: str) -> None:
    parameters = case.path_parameters or {}
    if "public_id" in parameters and str(parameters["public_id"])[:1] in "01234567":
        own = _own_ids(world)
        parameters["public_id"] = own["task"] if case.path.startswith("/api/v1/tasks/") else own["plan"]
    headers = {"Authorization": f"Token {nurse_token}"}
    if case.path == "/api/v1/medcom/hospital-notification/":
        headers = {}  # the hospitals' systems' own key, which the nurse has not: a 401 as documented
    case.call_and_validate(headers=headers, checks=CHECKS)
