"""The CSRF failure page: a friendly Danish page instead of Django's technical one.

The other error pages are Django's default handlers with our templates (templates/400.html, 403.html,
404.html, 500.html). Django's CSRF middleware already logs the reason to `django.security.csrf`; the
page does not show it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


# Django calls the view with `reason=` by keyword, so the unused parameter keeps its name.
def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:  # noqa: ARG001
    return render(request, "403_csrf.html", status=403)
