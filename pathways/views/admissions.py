"""Admissions without a plan: received hospital notices about citizens who have no plan, listed for the
receiving organisation."""
