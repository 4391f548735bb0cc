"""What every staff page's template gets besides the view's own context (config/settings.py TEMPLATES)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.http import HttpRequest

from pathways import selectors
from pathways.models import User
from pathways.signin import policy as signin


class NotificationBell:
    """The bell in the staff header. Nothing is looked up until a template asks: pages without the bell
    (the admin, the API docs, error pages) run no query for it, and a page that shows it runs one."""

    def __init__(self, user: User) -> None:
        self._user = user

    @cached_property
    def shown(self) -> bool:
        """Only once the sign-in is complete: not on the second step's own page."""
        user = self._user
        return not (signin.second_factor_required(user) and not signin.is_verified(user))

    @cached_property
    def unread(self) -> int:
        return selectors.unread_notification_count(self._user) if self.shown else 0

    @cached_property
    def admissions_without_plan(self) -> bool:
        """Whether the user's organisations have received notices about citizens without a plan (the
        caseload and the worklist link to the list; asked only there)."""
        return self.shown and selectors.admissions_without_plan_exist(self._user)


def notification_bell(request: HttpRequest) -> dict[str, Any]:
    """`notification_bell` for signed-in users; nothing at all for anonymous ones."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not isinstance(user, User):
        return {}
    return {"notification_bell": NotificationBell(user)}
