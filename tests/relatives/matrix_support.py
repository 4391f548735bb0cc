"""The access matrix's rows for relatives: support (merged by tests/test_access_matrix.py, PARTS)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ROWS: dict[str, tuple[str | None, dict[str, Any]]] = {}
BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {}
CHANGES: set[str] = set()
URL_KINDS: dict[str, Callable[[Any, Any], list[Any]]] = {}
ADMIN_MODELS: dict[str, tuple[str | None, frozenset[str]]] = {}
ADMIN_ADD_BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {}
ADMIN_ROWS_OF: dict[str, Callable[[Any], Any]] = {}


def build(world: Any) -> None:
    """The objects this part's URLs point at, made once in the matrix's world."""
