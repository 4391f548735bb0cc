"""Relatives' forms: validation at the edge; the services check again and write."""

from __future__ import annotations

# --- consent ---

# --- support ---

# --- children ---
