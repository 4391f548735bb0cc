"""Template filters of coordination: a plan's risk (from the caseload's annotations) and ages in days."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

from coordination import selectors
from pathways.models import PathwayPlan

register = template.Library()


@register.filter
def risk(plan: PathwayPlan) -> selectors.Risk:
    return selectors.risk_of(plan)


@register.filter
def days_since(moment: datetime | None) -> int:
    """Whole days from `moment` to today (local dates), 0 for none."""
    if moment is None:
        return 0
    return (timezone.localdate() - timezone.localdate(moment)).days
