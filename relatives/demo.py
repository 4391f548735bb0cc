"""The relatives in the demo (DESIGN.md's stories; issue 13 "Demo"). Run by `manage.py seed_demo` after the
hub's and before coordination's; idempotent."""

from __future__ import annotations


def seed() -> None:
    # --- demo ---
    pass
