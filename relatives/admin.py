"""Relatives in the admin: the catalogue data (support offers, strain instruments). The relatives' and
consent data are read and written on the plan's pages, where the access policy and the log apply."""

from __future__ import annotations

from django.contrib import admin  # noqa: F401

# --- support ---
