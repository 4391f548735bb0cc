"""What every staff view shares: the one decorator, the signed-in user, the plan as the user may edit it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_htmx.middleware import HtmxDetails

from pathways import access
from pathways.choices import AccessAction
from pathways.models import PathwayPlan, User
from pathways.selectors import plan_url as plan_url  # the views take it from here
from pathways.signin import policy as signin

View = TypeVar("View", bound=Callable[..., HttpResponse])


def staff_view(*methods: str) -> Callable[[View], View]:
    """Every staff page and fragment: a signed-in user (else the sign-in page), the second step passed
    where the account needs it (the middleware sends the user there first; this refuses again should a
    page ever be reached without it), only the given HTTP methods (405 otherwise), never cached."""

    def decorate(view: View) -> View:
        @wraps(view)
        def verified(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if signin.second_factor_required(user) and not signin.is_verified(user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        allowed = require_http_methods(list(methods))(verified)
        return cast(View, never_cache(login_required(allowed)))

    return decorate


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def staff(request: HttpRequest) -> User:
    return cast(User, request.user)  # staff_view guarantees a signed-in staff user


def editable_plan(
    request: HttpRequest, public_id: UUID, *, queryset: QuerySet[PathwayPlan] | None = None
) -> tuple[User, access.PlanAccess]:
    """The plan through the access policy (404 outside it), logged as a change, with the actor's rights;
    `queryset` reads it with what the view needs (select_related)."""
    actor = staff(request)
    return actor, access.access_plan(actor, public_id, action=AccessAction.EDIT_PLAN, queryset=queryset)


def partial_or_redirect(
    request: HtmxHttpRequest, template: str, context: dict[str, Any], plan: PathwayPlan, anchor: str
) -> HttpResponse:
    if request.htmx:
        return render(request, template, context)
    return redirect(plan_url(plan, anchor))


# What the pages with forms share (the hub's and the apps' above): a service's refusal shown on the form,
# and the form answered again as a fragment (htmx) or a page of its own.


def add_errors(form: Any, error: ValidationError, names: dict[str, str] | None = None) -> None:
    """A service's refusal on the form: each message by its field where the form has one (`names` maps
    a service's field name to the form's), else above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, errors in error.error_dict.items():
        field = (names or {}).get(name, name)
        form.add_error(field if field in form.fields else None, errors)


def form_response(
    request: HtmxHttpRequest,
    *,
    page: str,
    fragment: str,
    form_id: str,
    context: dict[str, Any],
    status: int,
) -> HttpResponse:
    """The form again: for htmx the fragment, answered 200 (htmx swaps 2xx only) and, after a POST,
    replacing the form itself rather than what it posts into; else its own page with `status`."""
    if request.htmx:
        response = render(request, fragment, context)
        if request.method == "POST":
            response["HX-Retarget"] = f"#{form_id}"
            response["HX-Reswap"] = "outerHTML"
        return response
    return render(request, page, context, status=status)
