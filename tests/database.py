"""Test helpers that reach the database past Django's test transaction: a second connection (another
session holding a lock), and a statement a protect trigger refuses."""

from __future__ import annotations

from typing import Any

import psycopg
from django.db import DatabaseError, connection, transaction


def second_connection() -> psycopg.Connection[Any]:
    """Another session on the test database (psycopg's default: a transaction opens with the first
    statement and holds its locks until rollback or commit)."""
    settings_dict = connection.settings_dict
    return psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"] or None,
        password=settings_dict["PASSWORD"] or None,
        host=settings_dict["HOST"] or None,
        port=settings_dict["PORT"] or None,
    )


def refused(sql: str, params: list[Any]) -> bool:
    """True if a protect trigger refuses the statement (the savepoint keeps the test's connection usable)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError as error:
        return "pgtrigger: Cannot" in str(error)
    return False
