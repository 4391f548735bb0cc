"""What the coordination pages with forms share: a service's refusal shown on the form, and the form
answered again as a fragment (htmx) or a page of its own."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render

from pathways.views.base import HtmxHttpRequest


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
