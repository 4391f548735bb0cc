"""The access matrix's rows for templates (issue 12) (merged by tests/test_access_matrix.py,
see its PARTS)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

STAFF = ["admin", "coordinator", "hospital_doctor", "home_nurse", "gp_doctor", "outsider"]


def _everyone(status: int, anonymous: int = 302) -> dict[str, int]:
    return dict.fromkeys(STAFF, status) | {"anonymous": anonymous}


ROWS: dict[str, tuple[str | None, dict[str, Any]]] = {}
BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {}
CHANGES: set[str] = set()
URL_KINDS: dict[str, Callable[[Any, Any], list[Any]]] = {}
# admin model ("app_model") → (the ADMIN_ROWS_OF name its object URLs use or None, what an
# administrator may do besides reading: a frozenset of "add", "change", "delete")
ADMIN_MODELS: dict[str, tuple[str | None, frozenset[str]]] = {}
ADMIN_ADD_BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {}
ADMIN_ROWS_OF: dict[str, Callable[[Any], Any]] = {}


def build(world: Any) -> None:
    """The objects this part's URLs point at, made once in the matrix's world."""
