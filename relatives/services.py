"""Relatives' writes: keyword-only, typed, atomic; each checks the actor's rights through
pathways.access.may_change, locks what it changes, writes the audit trail (the models are `audited`) and
raises its messages through the hub's outbox in the same transaction."""

from __future__ import annotations

# --- consent: relatives on a plan and the patient's consent decisions ---

# --- support: strain screening, needs and referrals ---

# --- children: the checklist for a child relative ---
